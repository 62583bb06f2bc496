"""The Hymir view of the Airflow UI on a real deployment: behind Airflow's login, and in a real browser.

The deployment is ``embedded`` (tests/deployment_fixtures.py: SQLite, LocalExecutor, a copy of
``dags/`` and one broken DAG file); the browser is the system's headless Chromium driven by
Playwright. On Airflow 3.1+ the view is opened from its entry in the Airflow UI's navigation and
from its tab on the DAG-run page; 3.0 has no ``external_views``, so there the view is opened at
``/hymir/`` and the navigation has no entry for it. Either way the view's links to Airflow's own
pages are followed in the window that shows the Airflow UI, and those pages load.
"""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from hymir import WorkflowStatus
from tests.deployment_fixtures import ROOT, remote, service_missing

pytest.importorskip("airflow")

from hymir_airflow.compat import AIRFLOW_MINOR, HAS_EXTERNAL_VIEWS, UI_LOGIN_STORAGE_KEY

pytestmark = [pytest.mark.airflow, pytest.mark.deployment]

SCREENSHOT = ROOT / "artifacts" / "hymir-view.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: The job table of a successful hymir_words run, cell by cell as the page shows it.
WORDS_JOBS = [
    ["1", "hymir.examples.words.uppercase", '"hello"', "uppercase", "success", "1", "0", "0", "—", "—", '"HELLO"'],
    ["2", "hymir.examples.words.uppercase", '"hymir"', "uppercase_2", "success", "1", "0", "0", "—", "—", '"HYMIR"'],
    ["3", "hymir.examples.words.uppercase", '"world"', "uppercase_3", "success", "1", "0", "0", "—", "—", '"WORLD"'],
    ["4", "hymir.examples.words.count", "—", "count", "success", "1", "0", "0", "—", "—", "3"],
]
COLUMNS = [
    "Job",
    "Function",
    "Arguments",
    "Task",
    "Status",
    "Try",
    "Retries",
    "Checks",
    "Context",
    "Exception",
    "Output",
]
#: How long an expectation waits for a page of the Airflow UI (or the view inside it) to show, in milliseconds.
UI_WAIT = 20_000
#: How the broken DAG file of the embedded deployment (tests/deployment_fixtures.py) fails to import.
BROKEN_ERROR = "hymir.errors.InvalidWorkflow: job 1 (hymir.examples.words.count): input 'words': no job produces it"


@pytest.fixture(scope="module")
def words_run(embedded) -> str:
    """The run id of hymir_words, triggered through the REST API and finished successfully."""
    from hymir.examples.words import words_workflow

    executor = remote(embedded, unpause=True)
    executor.wait_for_dag("hymir_words", timeout=120)
    run_id = executor.run(words_workflow(), dag_id="hymir_words")
    assert executor.wait(run_id, sleep=1, timeout=120).status is WorkflowStatus.SUCCESS
    return run_id


def run_page(api_url: str, run_id: str) -> str:
    """The address of the Hymir view of one hymir_words run."""
    return f"{api_url}/hymir/dags/hymir_words/runs/{quote(run_id, safe='')}"


class TableText(HTMLParser):
    """The text of each header and data cell of an HTML page's tables, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_text(html: str) -> list[list[str]]:
    """The cells of every table row of ``html``, as a person reads them."""
    parser = TableText()
    parser.feed(html)
    return parser.rows


def test_the_run_page_needs_a_login_and_then_shows_every_job(embedded, words_run):
    page = run_page(embedded.api_url, words_run)

    refused = httpx.get(page)
    assert refused.status_code == 401
    assert "Hymir" not in refused.text and "HELLO" not in refused.text

    from_a_browser = httpx.get(page, headers={"Accept": "text/html"})
    if UI_LOGIN_STORAGE_KEY is None:
        assert from_a_browser.status_code == 303
        assert from_a_browser.headers["location"].startswith("/auth/login?next=")
    else:  # 3.0: a page that takes back the login Airflow's UI keeps in the browser, else goes to the login page
        assert from_a_browser.status_code == 401
        assert 'location.replace("/auth/login?next=' in from_a_browser.text and "HELLO" not in from_a_browser.text

    login = httpx.post(f"{embedded.api_url}/auth/token", json={"username": "admin", "password": embedded.password})
    shown = httpx.get(page, headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert shown.status_code == 200
    assert f">{words_run}</a></h1>" in shown.text
    assert table_text(shown.text) == [COLUMNS, *WORDS_JOBS]


@pytest.fixture
def browser():
    """Headless Chromium (Debian's package) under Playwright; skipped, or failed in CI, when missing.

    Expectations wait up to ``UI_WAIT`` for what they expect: the Airflow UI loads slowly on a busy machine.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("Playwright is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        service_missing(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_WAIT)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def new_page(browser):
    """A page of the browser as wide as a laptop's screen."""
    page = browser.new_page(viewport={"width": 1400, "height": 720})
    page.set_default_timeout(30_000)
    return page


def log_in_at_the_view(page, embedded, words_run) -> None:
    """Open the view without a login: it sends the browser to Airflow's own login page, then back to itself."""
    from playwright.sync_api import expect

    page.goto(f"{embedded.api_url}/hymir/")
    expect(page.get_by_text("Sign into Airflow")).to_be_visible()
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(embedded.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{embedded.api_url}/hymir/")
    expect(page.get_by_role("heading", name="Hymir workflows")).to_be_visible()
    expect(page.get_by_role("link", name=words_run, exact=True)).to_be_visible()


def job_table(view) -> tuple[list[str], list[list[str]]]:
    """The headers and the cells of the job table that the view (a page or the frame that shows it) shows."""
    from playwright.sync_api import expect

    rows = view.locator("table.jobs tbody tr")
    expect(rows).to_have_count(len(WORDS_JOBS))
    headers = view.locator("table.jobs thead th").all_inner_texts()
    return headers, [rows.nth(index).locator("td").all_inner_texts() for index in range(len(WORDS_JOBS))]


def check_the_job_table(headers: list[str], cells: list[list[str]]) -> None:
    assert [header.strip().lower() for header in headers] == [column.lower() for column in COLUMNS]
    assert cells == WORDS_JOBS


def check_the_run_opens(view, words_run) -> None:
    """Click the run in the view (a page or the frame that shows it) and check every job of its table."""
    from playwright.sync_api import Error, expect

    for attempt in (1, 2):
        try:
            # The overview's link: the run page's heading is a link named after the run too, to Airflow's page.
            run_link = view.locator("table.dags").get_by_role("link", name=words_run, exact=True)
            if attempt == 1 or run_link.count():
                run_link.click()
            expect(view.get_by_role("heading", name=words_run)).to_be_visible()
            headers, cells = job_table(view)
            break
        except Error as error:
            # Airflow's UI may load the plugin's frame once more just after showing it (seen once in
            # 3.3.2 CI: "Execution context was destroyed"), before or after the click took the frame to
            # the run; the view itself does not reload a finished run.
            if attempt == 2 or "Execution context was destroyed" not in str(error):
                raise
    check_the_job_table(headers, cells)


def hymir_nav_entry(page, api_url: str):
    """The "Hymir" link of the Airflow UI's home page, looked for once the navigation bar shows its "Dags" entry."""
    from playwright.sync_api import expect

    page.goto(f"{api_url}/")
    expect(page.get_by_role("link", name="Dags", exact=True)).to_be_visible()
    return page.get_by_role("link", name="Hymir", exact=True)


def the_view(page, embedded):
    """Where the view shows once logged in: inside the Airflow UI from its navigation entry on 3.1+, else at /hymir/.

    It is returned once it shows its overview.
    """
    from playwright.sync_api import expect

    view = page
    if HAS_EXTERNAL_VIEWS:
        hymir_nav_entry(page, embedded.api_url).click()
        view = page.frame_locator("iframe[title='Hymir']")
    else:
        page.goto(f"{embedded.api_url}/hymir/")
    expect(view.get_by_role("heading", name="Hymir workflows")).to_be_visible()
    return view


@pytest.mark.skipif(not HAS_EXTERNAL_VIEWS, reason="Airflow 3.0 has no external_views: no entry in its navigation")
def test_a_user_logs_in_and_opens_the_run_from_the_hymir_menu(embedded, words_run, browser):
    page = new_page(browser)
    log_in_at_the_view(page, embedded, words_run)

    # In the Airflow UI, the "Hymir" entry of the navigation shows the view; the run opens in it.
    check_the_run_opens(the_view(page, embedded), words_run)

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))


@pytest.mark.skipif(HAS_EXTERNAL_VIEWS, reason="Airflow 3.1+ shows the view from its navigation entry")
def test_on_airflow_3_0_a_user_logs_in_at_hymir_and_opens_the_run_there(embedded, words_run, browser):
    from playwright.sync_api import expect

    page = new_page(browser)
    log_in_at_the_view(page, embedded, words_run)
    check_the_run_opens(page, words_run)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    # The plugin offers no navigation entry where Airflow has no external_views, and the UI shows none.
    from hymir_airflow.plugin import HymirPlugin

    assert HymirPlugin.external_views == []
    entry = hymir_nav_entry(page, embedded.api_url)
    page.wait_for_load_state("networkidle")  # the UI has fetched all it shows, plugins included
    expect(entry).to_have_count(0)


def test_the_value_and_status_endpoints_answer_under_the_api_servers_mount(embedded, words_run):
    """On a real api-server the view lives under /hymir: its full-value and status addresses do too."""
    login = httpx.post(f"{embedded.api_url}/auth/token", json={"username": "admin", "password": embedded.password})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    page = run_page(embedded.api_url, words_run)
    shown = httpx.get(page, headers=headers).text
    assert 'http-equiv="refresh"' not in shown and "fetch(" not in shown, "a finished run's page refreshes itself"

    value = httpx.get(f"{page}/jobs/count/output", headers=headers)
    assert value.status_code == 200 and value.json() == 3
    assert httpx.get(f"{page}/jobs/count/output").status_code == 401
    status = httpx.get(f"{page}/status", headers=headers)
    assert status.status_code == 200 and len(status.json()["version"]) == 40


@pytest.fixture(scope="module")
def flaky_run(embedded):
    """A run of hymir_flaky with the param succeed_on_try=2, triggered through the REST API and awaited.

    It is the remote executor that triggered it and the run's id; the run is awaited through the
    DAG-run wait endpoint on 3.1+ and by polling on 3.0.
    """
    from hymir.examples.flaky import flaky_workflow

    executor = remote(embedded, unpause=True)
    executor.wait_for_dag("hymir_flaky", timeout=120)
    run_id = executor.run(flaky_workflow(), params={"succeed_on_try": 2}, dag_id="hymir_flaky")
    assert executor.wait(run_id, sleep=1, timeout=180).status is WorkflowStatus.SUCCESS
    return executor, run_id


def test_the_remote_executor_reads_retries_records_and_outputs_back(flaky_run):
    """On every minor the REST client finds each job's record where that Airflow keeps it, and its output.

    hymir_flaky's first job asks for a retry once (succeed_on_try=2), so its record holds retries=1:
    in the task state store on 3.3, in the records holder's XComs before.
    """
    executor, run_id = flaky_run
    states = executor.job_states(run_id)
    assert states["1"].retries == 1 and states["1"].checks == 0
    assert states["1"].result == {"answered_on_try": 2}
    assert all(state.exception is None for state in states.values()), states
    assert executor.outputs(run_id)["payload"] == [{"answered_on_try": 2}]


def test_the_dag_run_and_task_names_open_airflows_own_pages_in_its_window(embedded, words_run, browser):
    """On the run page the DAG, the run and each task link to Airflow's pages, which load in the UI's window."""
    from playwright.sync_api import expect

    page = new_page(browser)
    log_in_at_the_view(page, embedded, words_run)
    run = f"/dags/hymir_words/runs/{quote(words_run, safe='')}"
    pages = {"hymir_words": "/dags/hymir_words", words_run: run, "uppercase_2": f"{run}/tasks/uppercase_2?try_number=1"}

    view = the_view(page, embedded)
    check_the_run_opens(view, words_run)
    for name, href in pages.items():
        expect(view.get_by_role("link", name=name, exact=True)).to_have_attribute("href", href)

    # The task's link opens Airflow's page of that task instance, with the log of its try.
    view.get_by_role("link", name="uppercase_2", exact=True).click()
    expect(page).to_have_url(embedded.api_url + pages["uppercase_2"])
    log_line = page.get_by_text(re.compile(r"job 2 \(hymir\.examples\.words\.uppercase\)")).first
    expect(log_line).to_be_visible()

    # The DAG's link opens Airflow's page of the DAG, with its grid of runs and tasks.
    view = the_view(page, embedded)
    check_the_run_opens(view, words_run)
    view.get_by_role("link", name="hymir_words", exact=True).click()
    expect(page).to_have_url(embedded.api_url + pages["hymir_words"])
    expect(page.get_by_role("heading", name="hymir_words")).to_be_visible()
    expect(page.get_by_text("count", exact=True).first).to_be_visible()


@pytest.mark.skipif(not HAS_EXTERNAL_VIEWS, reason="Airflow 3.0 has no external_views: no tab on its DAG-run page")
def test_the_dag_run_page_of_airflow_has_a_hymir_tab_that_shows_the_run(embedded, words_run, browser):
    from playwright.sync_api import expect

    page = new_page(browser)
    log_in_at_the_view(page, embedded, words_run)
    page.goto(f"{embedded.api_url}/dags/hymir_words/runs/{quote(words_run, safe='')}")
    tab = page.locator("a[href$='/plugin/hymir-run']")
    expect(tab).to_have_text("Hymir")
    tab.click()
    frame = page.frame_locator("iframe[title='Hymir']")
    expect(frame.get_by_role("heading", name=words_run)).to_be_visible()
    check_the_job_table(*job_table(frame))


def test_the_overview_lists_the_broken_hymir_dag_file_and_links_to_airflows_import_errors(embedded, words_run, browser):
    from playwright.sync_api import expect

    page = new_page(browser)
    log_in_at_the_view(page, embedded, words_run)
    deadline = time.monotonic() + 60
    while "hymir_broken.py" not in page.locator("body").inner_text():
        assert time.monotonic() < deadline, "the overview never listed the broken DAG file"
        time.sleep(1)
        page.reload()

    view = the_view(page, embedded)
    broken = view.locator("table.import-errors tbody tr")
    expect(broken).to_have_count(1)
    # The file as import errors name it (compat.dag_file_column): relative to the bundle since 3.1, absolute on 3.0.
    file = "hymir_broken.py" if AIRFLOW_MINOR >= (3, 1) else str(embedded.dags_folder / "hymir_broken.py")
    expect(broken.locator("td").first).to_have_text(file)
    expect(broken.locator("summary")).to_contain_text(BROKEN_ERROR)

    # The link opens Airflow's home page, whose "Dag Import Errors" list has the file too.
    view.get_by_role("link", name="Dag Import Errors on its home page").click()
    expect(page).to_have_url(f"{embedded.api_url}/")
    page.get_by_text(re.compile(r"^Dag import errors?$", re.IGNORECASE)).first.click()  # 3.0 writes it lower-case
    expect(page.get_by_text("hymir_broken.py").first).to_be_visible()


def test_the_run_page_shows_the_params_the_run_was_given(embedded, words_run, flaky_run, browser):
    from playwright.sync_api import expect

    _, run_id = flaky_run
    page = new_page(browser)
    log_in_at_the_view(page, embedded, words_run)
    page.goto(f"{embedded.api_url}/hymir/dags/hymir_flaky/runs/{quote(run_id, safe='')}")
    expect(page.get_by_role("heading", name=run_id)).to_be_visible()
    expect(page.locator(".params dd")).to_have_text('{"succeed_on_try": 2}')
