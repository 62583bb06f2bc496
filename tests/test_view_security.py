"""Security and looks of the Hymir view: masked values, bounded pages, Airflow's permissions, links and layout.

The view's FastAPI app runs in this process against the session's private Airflow database, with
a real run of ``hymir_words`` (``dag.test``) and Airflow's own auth manager machinery: the
configured ``[core] auth_manager`` is ``RestrictedAuthManager`` below, a ``SimpleAuthManager``
that bars three users from one thing each, and logins are its JWTs. Values that a test needs
(secrets, 30 MB outputs, import errors) are written into the metadata database (XComs, job
records in the task state store on 3.3+ or the holder's XComs before, import errors) as Airflow
stores them, so the view's masking is tested apart from the operator's.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

pytest.importorskip("airflow")

from airflow.api_fastapi.auth.managers.models.resource_details import (
    AccessView,
    DagAccessEntity,
    DagDetails,
)
from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

from tests.test_plugin_ui import CHROMIUM_ARGS, table_text

pytestmark = pytest.mark.airflow

DAG_ID = "hymir_view_words"
MANY_DAG_ID = "hymir_view_many"
MANY_JOBS = 450


def say(message: str) -> None:
    print(f"[view security] {message}", flush=True)


class RestrictedAuthManager(SimpleAuthManager):
    """Airflow's simple auth manager, except for three users.

    ``no-runs`` may not read any DAG run, ``one-dag`` may read the DAG ``hymir_view_words`` only, and
    ``no-errors`` may not see import errors.
    """

    def is_authorized_dag(
        self,
        *,
        method,
        user: SimpleAuthManagerUser,
        access_entity: DagAccessEntity | None = None,
        details: DagDetails | None = None,
    ) -> bool:
        if access_entity is DagAccessEntity.RUN and user.get_name() == "no-runs":
            return False
        if user.get_name() == "one-dag" and (details is None or details.id != DAG_ID):
            return False
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)

    def is_authorized_view(self, *, access_view: AccessView, user: SimpleAuthManagerUser) -> bool:
        if access_view is AccessView.IMPORT_ERRORS and user.get_name() == "no-errors":
            return False
        return super().is_authorized_view(access_view=access_view, user=user)


@pytest.fixture(scope="module")
def auth_manager():
    """``RestrictedAuthManager`` as the configured auth manager of this process, for this module."""
    from airflow.api_fastapi.app import init_auth_manager, purge_cached_app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__CORE__AUTH_MANAGER", f"{__name__}.RestrictedAuthManager")
        purge_cached_app()
        manager = init_auth_manager()
        assert isinstance(manager, RestrictedAuthManager)
        yield manager
    purge_cached_app()


@pytest.fixture(scope="module")
def tokens(auth_manager) -> dict[str, str]:
    """A login (the JWT Airflow's login would give) for an admin and each viewer ``RestrictedAuthManager`` bars."""
    users = [("admin", "ADMIN"), ("no-runs", "VIEWER"), ("one-dag", "VIEWER"), ("no-errors", "VIEWER")]
    return {name: auth_manager.generate_jwt(SimpleAuthManagerUser(username=name, role=role)) for name, role in users}


@pytest.fixture(scope="module")
def view(auth_manager):
    """The Hymir view's app, called in this process."""
    from fastapi.testclient import TestClient

    from hymir_airflow.ui.app import create_app

    return TestClient(create_app())


def get(view, tokens, path: str, user: str = "admin", **params):
    return view.get(path, params=params, headers={"Authorization": f"Bearer {tokens[user]}"})


def run_path(run_id: str, dag_id: str = DAG_ID, *rest: str) -> str:
    return "/dags/" + "/".join(quote(part, safe="") for part in (dag_id, "runs", run_id, *rest))


def job_cells(html: str) -> dict[str, dict[str, str]]:
    """The job table of a run page: each job's cells by column name, the jobs by task id."""
    header, *rows = table_text(html)
    return {cells[header.index("Task")]: dict(zip(header, cells, strict=False)) for cells in rows}


@pytest.fixture(scope="module")
def words_run(airflow_executor) -> str:
    """A finished run of the README workflow, as the DAG ``hymir_view_words``."""
    from hymir.examples.words import words_workflow

    run_id = airflow_executor.run(words_workflow(), dag_id=DAG_ID)
    assert airflow_executor.wait(run_id).status.value == "success"
    return run_id


def store_output(run_id: str, task_id: str, value) -> None:
    """Replace the task's XCom ``return_value`` in the run, as a worker would have stored it."""
    from airflow.utils.session import create_session

    from hymir_airflow.compat import store_xcom

    with create_session() as session:
        store_xcom(session, DAG_ID, run_id, task_id, "return_value", value)


def store_record(run_id: str, task_id: str, record: dict) -> None:
    """Replace the job's record in the run, where the operator keeps it."""
    from airflow.utils.session import create_session

    from hymir_airflow.compat import store_record as store
    from hymir_airflow.state import STORE_KEY

    with create_session() as session:
        store(session, DAG_ID, run_id, task_id, STORE_KEY, record)


# --- (a) masking ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secrets(words_run) -> dict:
    """Secrets stored unmasked in the run: under sensitive key names, and one the masker was told of."""
    from airflow.models.xcom import XComModel
    from airflow.sdk.log import mask_secret

    known = f"known-{uuid.uuid4().hex}"
    mask_secret(known)
    found = {
        "known": known,
        "api_key": f"sk-{uuid.uuid4().hex}",
        "password": f"pw-{uuid.uuid4().hex}",
        "token": f"tk-{uuid.uuid4().hex}",
    }
    output = {"api_key": found["api_key"], "note": f"signed with {known}"}
    store_output(words_run, "uppercase", output)
    XComModel.clear(dag_id=DAG_ID, task_id="uppercase_2", run_id=words_run)  # it failed: no output
    store_record(
        words_run,
        "uppercase_2",
        {
            "checks": 2,
            "context": {"password": found["password"], "cursor": f"after {known}"},
            "exception": f"Traceback (most recent call last):\n  ...\nValueError: could not log in with {known}",
            "result": {"token": found["token"], "why": f"refused {known}"},
        },
    )
    found["output"] = output
    return found


def test_the_view_masks_outputs_failures_contexts_and_exceptions(view, tokens, words_run, secrets):
    page = get(view, tokens, run_path(words_run))
    assert page.status_code == 200, page.text
    for name in ("known", "api_key", "password", "token"):
        assert secrets[name] not in page.text, f"the {name} secret reached the run page"
    cells = job_cells(page.text)
    say(f"masked cells: {cells['uppercase']['Output']} | {cells['uppercase_2']}")
    assert cells["uppercase"]["Output"] == '{"api_key": "***", "note": "signed with ***"}'
    assert cells["uppercase_2"]["Context"] == '{"cursor": "after ***", "password": "***"}'
    assert cells["uppercase_2"]["Exception"] == "ValueError: could not log in with ***"
    assert cells["uppercase_2"]["Output"] == 'Failure: {"token": "***", "why": "refused ***"}'

    for task_id, part in [
        ("uppercase", "output"),
        ("uppercase_2", "context"),
        ("uppercase_2", "failure"),
        ("uppercase_2", "exception"),
    ]:
        full = get(view, tokens, run_path(words_run, DAG_ID, "jobs", task_id, part))
        assert full.status_code == 200 and full.headers["content-type"] == "application/json"
        assert "***" in full.text
        assert not any(secrets[name] in full.text for name in ("known", "api_key", "password", "token"))


def test_masking_leaves_the_stored_values_to_their_consumers(airflow_executor, words_run, secrets):
    """The view is display only: the executor (like consumer jobs) still reads the real value."""
    assert airflow_executor.outputs(words_run)["words"][0] == secrets["output"]


# --- (b) bounded pages -------------------------------------------------------------------------------------

MB = 1_000_000


@pytest.fixture(scope="module")
def big_values(words_run) -> dict:
    """A 30 MB output and a 10 MB CheckLater context in the run."""
    output, context = "x" * (30 * MB), {"blob": "y" * (10 * MB)}
    store_output(words_run, "count", output)
    store_record(words_run, "uppercase_3", {"checks": 1, "context": context, "exception": None, "result": None})
    return {"output": output, "context": context}


def test_a_30_mb_output_and_a_10_mb_context_make_a_small_page(view, tokens, words_run, big_values):
    started = time.monotonic()
    page = get(view, tokens, run_path(words_run))
    seconds = time.monotonic() - started
    size = len(page.content)
    say(f"run page with a 30 MB output and a 10 MB context: {size:,} bytes, served in {seconds:.2f} s")
    assert page.status_code == 200 and size < 100_000
    cells = job_cells(page.text)
    output = cells["count"]["Output"]
    assert output.startswith('"xxxx') and output.endswith("… (30.0 MB in all) full value")
    assert cells["uppercase_3"]["Context"].endswith("… (10.0 MB in all) full value")
    assert f'href="{run_path(words_run, DAG_ID, "jobs", "count", "output")}"' in page.text


def test_the_full_value_streams_all_of_it(view, tokens, words_run, big_values):
    with view.stream(
        "GET",
        run_path(words_run, DAG_ID, "jobs", "count", "output"),
        headers={"Authorization": f"Bearer {tokens['admin']}"},
    ) as response:
        assert response.status_code == 200
        chunks = [len(chunk) for chunk in response.iter_bytes()]
    assert sum(chunks) == len(json.dumps(big_values["output"]))
    context = get(view, tokens, run_path(words_run, DAG_ID, "jobs", "uppercase_3", "context"))
    assert context.json() == big_values["context"]
    missing = get(view, tokens, run_path(words_run, DAG_ID, "jobs", "uppercase_3", "failure"))
    assert missing.status_code == 404
    assert get(view, tokens, run_path(words_run, DAG_ID, "jobs", "nope", "output")).status_code == 404
    assert get(view, tokens, run_path(words_run, DAG_ID, "jobs", "count", "secrets")).status_code == 404


@pytest.fixture(scope="module")
def many_run(auth_manager) -> str:
    """A queued (never run) run of a DAG of 450 jobs: registered and triggered as the API would."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    from hymir import Group, Workflow
    from hymir.examples.words import uppercase
    from hymir_airflow import workflow_to_dag
    from hymir_airflow.backends.database import ensure_database
    from hymir_airflow.compat import register_dag

    ensure_database()
    workflow = Workflow(Group(*(uppercase(f"w{index}") for index in range(MANY_JOBS))))
    register_dag(workflow_to_dag(workflow, dag_id=MANY_DAG_ID))
    run = trigger_dag(MANY_DAG_ID, triggered_by=DagRunTriggeredByType.TEST, run_id=f"many-{uuid.uuid4().hex[:8]}")
    return run.run_id


def test_runs_of_thousands_of_jobs_are_paged(view, tokens, many_run):
    pages = [get(view, tokens, run_path(many_run, MANY_DAG_ID), page=number) for number in (1, 2, 3)]
    assert [page.status_code for page in pages] == [200, 200, 200]
    jobs = [[row[0] for row in table_text(page.text)[1:]] for page in pages]
    assert [len(shown) for shown in jobs] == [200, 200, 50]
    assert jobs[0][0] == "1" and jobs[0][-1] == "200" and jobs[1][0] == "201" and jobs[2][-1] == "450"
    assert 'rel="next"' in pages[0].text and 'rel="prev"' not in pages[0].text
    assert 'rel="next"' in pages[1].text and 'rel="prev"' in pages[1].text
    assert 'rel="next"' not in pages[2].text and "jobs 401–450 of 450 (page 3 of 3)" in pages[2].text
    assert get(view, tokens, run_path(many_run, MANY_DAG_ID), page=4).status_code == 404
    say(f"450 jobs in pages of {[len(shown) for shown in jobs]}; page 1 is {len(pages[0].content):,} bytes")


def test_an_unfinished_run_reloads_only_when_its_status_changes(view, tokens, many_run, words_run):
    from sqlalchemy import update

    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    unfinished = get(view, tokens, run_path(many_run, MANY_DAG_ID)).text
    finished = get(view, tokens, run_path(words_run)).text
    assert 'http-equiv="refresh"' not in unfinished + finished
    assert "fetch(statusUrl" in unfinished and "fetch(" not in finished

    status = run_path(many_run, MANY_DAG_ID, "status")
    before = get(view, tokens, status).json()["version"]
    assert get(view, tokens, status).json()["version"] == before, "a run that did not change looks changed"
    assert json.dumps(before) in unfinished
    with create_session() as session:
        session.execute(
            update(TaskInstance)
            .where(TaskInstance.dag_id == MANY_DAG_ID, TaskInstance.run_id == many_run)
            .where(TaskInstance.task_id == "uppercase")
            .values(state="running", try_number=1)
        )
    assert get(view, tokens, status).json()["version"] != before
    assert get(view, tokens, run_path("no-such-run", MANY_DAG_ID, "status")).status_code == 404


@contextlib.contextmanager
def chromium_page(tokens, width: int = 1280) -> Iterator[tuple[Any, str]]:
    """A page of headless Chromium ``width`` pixels wide, logged in as admin, and the address of the view it reads.

    The view is served over HTTP (``served_view``); skipped, or failed in CI, without Playwright or Chromium.
    """
    from tests.deployment_fixtures import service_missing
    from tests.test_plugin_ui import CHROMIUM

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("Playwright is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        service_missing(f"{CHROMIUM} is missing (apt-get install chromium)")
    with served_view() as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": 720})
            context.add_cookies([{"name": "_token", "value": tokens["admin"], "url": base}])
            yield context.new_page(), base
        finally:
            browser.close()


def test_chromium_loads_the_page_of_a_run_with_big_values_quickly(auth_manager, tokens, words_run, big_values):
    """The figure the issue asks for: the page's bytes and Chromium's load time, served over HTTP."""
    with chromium_page(tokens) as (page, base):
        started = time.monotonic()
        response = page.goto(base + run_path(words_run), wait_until="load", timeout=60_000)
        seconds = time.monotonic() - started
        size = len(response.body())
        assert response.status == 200
        assert page.get_by_text("(30.0 MB in all)").is_visible()
    say(f"Chromium loaded the run page ({size:,} bytes) in {seconds:.2f} s")
    assert size < 1_000_000 and seconds < 5


def test_a_long_output_wraps_inside_the_table_and_the_page_does_not_run_off_the_side(
    auth_manager, tokens, words_run, big_values
):
    """At the width of Airflow's DAG-run tab, the 2,000 characters shown of a 30 MB output wrap in their cell."""
    with chromium_page(tokens, width=1000) as (page, base):
        page.goto(base + run_path(words_run))
        page_overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
        table_box = page.locator(".table-box").bounding_box()
        output = page.locator("table.jobs tr", has=page.get_by_role("link", name="count", exact=True))
        cell = output.locator("td").last.bounding_box()
    say(f"output cell: {cell['width']:.0f} x {cell['height']:.0f} px in a table box {table_box['width']:.0f} px wide")
    assert page_overflow <= 0, f"the page is {page_overflow} px wider than the window"
    assert cell["x"] + cell["width"] <= table_box["x"] + table_box["width"] + 1, "the output cell runs off the table"
    assert cell["height"] > 10 * 20, "the long output did not wrap"


#: The task instance states the colour test gives jobs of a run, one each.
STATES = ["running", "success", "queued", "up_for_retry", "up_for_reschedule", "failed"]


def test_each_state_has_a_colour_of_its_own_and_running_is_not_successs_green(auth_manager, tokens, many_run):
    from sqlalchemy import update

    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    task_ids = ["uppercase"] + [f"uppercase_{number}" for number in range(2, len(STATES) + 1)]
    with create_session() as session:
        for task_id, state in zip(task_ids, STATES, strict=True):
            session.execute(
                update(TaskInstance)
                .where(TaskInstance.dag_id == MANY_DAG_ID, TaskInstance.run_id == many_run)
                .where(TaskInstance.task_id == task_id)
                .values(state=state, try_number=1)
            )
    with chromium_page(tokens) as (page, base):
        page.goto(base + run_path(many_run, MANY_DAG_ID))
        colours = {
            state: page.locator(f"table.jobs .state-{state}").first.evaluate(
                "badge => getComputedStyle(badge).backgroundColor"
            )
            for state in STATES
        }
    say(f"state colours: {colours}")
    assert colours["running"] != colours["success"]
    assert len(set(colours.values())) == len(STATES), colours


class served_view:
    """The Hymir view's app served over HTTP on 127.0.0.1 by uvicorn in a thread, for a real browser."""

    def __enter__(self) -> str:
        import uvicorn

        from hymir_airflow.launcher import free_port
        from hymir_airflow.ui.app import create_app

        port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc_info) -> None:
        self.server.should_exit = True
        self.thread.join(10)


# --- (c) DAG-run permission ------------------------------------------------------------------------------


def test_without_dag_run_read_the_overview_hides_the_runs(view, tokens, words_run):
    admin = get(view, tokens, "/")
    barred = get(view, tokens, "/", user="no-runs")
    assert admin.status_code == barred.status_code == 200
    admin_text, barred_text = (page.text.replace("<wbr>", "") for page in (admin, barred))
    assert words_run in admin_text
    assert DAG_ID in barred_text and words_run not in barred_text
    row = next(row for row in table_text(barred.text) if row and row[0].startswith(DAG_ID))
    assert row[1] == "you may not read the runs of this DAG"


@pytest.mark.parametrize("rest", [(), ("status",), ("jobs", "count", "output"), ("jobs", "uppercase_2", "context")])
def test_without_dag_run_read_a_run_and_its_values_are_refused(view, tokens, words_run, rest):
    path = run_path(words_run, DAG_ID, *rest)
    assert get(view, tokens, path).status_code == 200
    refused = get(view, tokens, path, user="no-runs")
    assert refused.status_code == 403, refused.text
    assert words_run not in refused.text


# --- (d) job arguments and run params ------------------------------------------------------------------

ARGUMENTS_DAG_ID = "hymir_view_arguments"


@pytest.fixture(scope="module")
def arguments_run(auth_manager) -> tuple[str, dict[str, str]]:
    """A triggered (never run) run whose job arguments and params hold secrets, and those secrets by name.

    One secret hides under a sensitive keyword argument (``password``), one under a sensitive param name
    (``api_key``, given in the run's conf), one the masker was told of, inside a positional argument and a
    param; one argument is longer than Airflow keeps (``[core] max_templated_field_length``).
    """
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.sdk.log import mask_secret
    from airflow.utils.types import DagRunTriggeredByType

    from hymir import Group, Workflow
    from hymir.examples.words import uppercase
    from hymir_airflow import workflow_to_dag
    from hymir_airflow.compat import register_dag
    from tests.jobs.redaction import keep_password_in_context

    secrets = {
        "known": f"known-{uuid.uuid4().hex}",
        "password": f"pw-{uuid.uuid4().hex}",
        "api_key": f"sk-{uuid.uuid4().hex}",
    }
    mask_secret(secrets["known"])
    jobs = Group(
        keep_password_in_context(password=secrets["password"]),
        uppercase(f"word {secrets['known']}"),
        uppercase("y" * 5000),
    )
    register_dag(workflow_to_dag(Workflow(jobs, params={"api_key": "none yet", "limit": 3}), dag_id=ARGUMENTS_DAG_ID))
    conf = {"api_key": secrets["api_key"], "note": f"about {secrets['known']}"}
    run = trigger_dag(
        ARGUMENTS_DAG_ID, triggered_by=DagRunTriggeredByType.TEST, run_id=f"args-{uuid.uuid4().hex[:8]}", conf=conf
    )
    return run.run_id, secrets


def test_job_arguments_and_run_params_are_shown_masked_and_short(view, tokens, arguments_run):
    from hymir_airflow.ui.preview import ARGUMENT_CHARS

    run_id, secrets = arguments_run
    page = get(view, tokens, run_path(run_id, ARGUMENTS_DAG_ID))
    assert page.status_code == 200, page.text
    for name, secret in secrets.items():
        assert secret not in page.text, f"the {name} secret reached the run page"
    cells = job_cells(page.text)
    say(f"arguments: {[row['Arguments'][:60] for row in cells.values()]}")
    assert cells["keep_password_in_context"]["Arguments"] == 'password="***"'
    assert cells["uppercase"]["Arguments"] == '"word ***"'
    long = cells["uppercase_2"]["Arguments"]
    assert long.endswith(" …") and len(long) <= ARGUMENT_CHARS + 2
    params = re.search(r'<div class="params"><dt>Params</dt><dd><code>(.*?)</code>', page.text).group(1)
    assert html.unescape(params) == '{"api_key": "***", "limit": 3, "note": "about ***"}'


# --- (e) links to Airflow's own pages ---------------------------------------------------------------------


@pytest.mark.parametrize("base_path", ["", "/airflow"])
def test_links_to_airflows_pages_start_at_the_ui_base_also_under_a_base_path(
    auth_manager, tokens, words_run, base_path
):
    """Mounted as the api-server mounts it (its root path is ``[api] base_url``'s), the view links to Airflow's pages.

    Those links open in the window that shows the Airflow UI (``target="_top"``), the view's own in the view.
    """
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from hymir_airflow.ui.app import create_app

    api_server = FastAPI(root_path=base_path)
    api_server.mount("/hymir", create_app())
    client = TestClient(api_server)
    page = client.get(f"{base_path}/hymir{run_path(words_run)}", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert page.status_code == 200, page.text
    run = f"{base_path}/dags/{DAG_ID}/runs/{quote(words_run, safe='')}"
    airflow_links = re.findall(r'<a class="airflow" href="([^"]*)" target="_top"', page.text)
    assert airflow_links[:2] == [run, f"{base_path}/dags/{DAG_ID}"]
    assert f"{run}/tasks/uppercase?try_number=1" in airflow_links
    assert len(airflow_links) == 2 + len(job_cells(page.text))
    assert f'<a href="{base_path}/hymir/">Hymir workflows</a>' in page.text
    overview = client.get(f"{base_path}/hymir/", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert f'<a class="airflow" href="{base_path}/dags/{DAG_ID}" target="_top"' in overview.text


# --- (f) DAG files that failed to import ------------------------------------------------------------------


@pytest.fixture(scope="module")
def import_errors(auth_manager, words_run, many_run) -> Iterator[dict[str, str]]:
    """Import errors as the dag-processor records them, by file: three of Hymir DAG files, one of another file.

    A Hymir DAG file is recognised by its text (it imports hymir_airflow), by its error (one of hymir.errors),
    or by the Hymir DAGs Airflow loaded from it before (the file of ``hymir_view_words`` and ``hymir_view_many``).
    Each error names a secret the masker was told of.
    """
    from datetime import datetime, timezone

    from sqlalchemy import delete, select

    from airflow.models.dag import DagModel
    from airflow.models.errors import ParseImportError
    from airflow.sdk.log import mask_secret
    from airflow.utils.session import create_session

    from hymir_airflow.compat import config, dag_file_column

    known = f"known-{uuid.uuid4().hex}"
    mask_secret(known)
    folder = Path(config().get("core", "dags_folder"))
    written = {
        "view_imports_hymir.py": "from hymir_airflow import workflow_to_dag\nfrom gone_jobs import job\n",
        "view_plain.py": "from airflow.sdk import DAG\nfrom gone import thing\n",
    }
    for name, text in written.items():
        (folder / name).write_text(text)
    with create_session() as session:
        bundle, shared = session.execute(
            select(DagModel.bundle_name, dag_file_column()).where(DagModel.dag_id == DAG_ID)
        ).one()
        errors = {
            "view_imports_hymir.py": f"ModuleNotFoundError: No module named 'gone_jobs' (password {known})",
            "view_invalid.py": f"hymir.errors.InvalidWorkflow: job 1 (jobs.load): input 'rows' ({known})",
            "view_plain.py": f"ModuleNotFoundError: No module named 'gone' ({known})",
            shared: f"SyntaxError: invalid syntax ({known})",
        }
        for file, error in errors.items():
            session.add(
                ParseImportError(
                    filename=file,
                    bundle_name=bundle,
                    stacktrace=f"Traceback (most recent call last):\n  File \"{file}\", line 2\n{error}\n",
                    timestamp=datetime.now(timezone.utc),
                )
            )
    yield {**errors, "known": known, "shared": shared}
    with create_session() as session:
        session.execute(delete(ParseImportError).where(ParseImportError.filename.in_(list(errors))))
    for name in written:
        (folder / name).unlink()


def broken_files(html_text: str) -> dict[str, str]:
    """The overview's table of DAG files that failed to import: each file's error (its last line) by file name."""
    section = html_text.split('<h2 id="import-errors">', 1)
    if len(section) == 1:
        return {}
    rows = table_text(section[1])[1:]
    return {row[0]: row[2].split("Traceback")[0].strip() for row in rows}


def test_the_overview_lists_the_hymir_dag_files_that_failed_to_import_masked(view, tokens, import_errors):
    page = get(view, tokens, "/")
    assert page.status_code == 200
    assert import_errors["known"] not in page.text
    listed = broken_files(page.text)
    say(f"broken Hymir DAG files: {listed}")
    mine = {file: error for file, error in listed.items() if file in import_errors}
    known = import_errors["known"]
    assert mine == {
        "view_imports_hymir.py": import_errors["view_imports_hymir.py"].replace(known, "***"),
        "view_invalid.py": import_errors["view_invalid.py"].replace(known, "***"),
        import_errors["shared"]: import_errors[import_errors["shared"]].replace(known, "***"),
    }


def test_import_errors_are_shown_as_airflows_permissions_allow(view, tokens, import_errors):
    """Airflow's rules: the import-errors view, one readable DAG of the file, and all of them for its traceback."""
    shared = import_errors["shared"]
    assert broken_files(get(view, tokens, "/", user="no-errors").text) == {}
    one_dag = broken_files(get(view, tokens, "/", user="one-dag").text)
    assert one_dag == {shared: "you may not read every DAG of this file"}
    viewer = broken_files(get(view, tokens, "/", user="no-runs").text)
    assert {"view_imports_hymir.py", "view_invalid.py", shared} <= viewer.keys()
