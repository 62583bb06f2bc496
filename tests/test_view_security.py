"""Security of the Hymir view: masked values, bounded pages, and Airflow's DAG-run permission.

The view's FastAPI app runs in this process against the session's private Airflow database, with
a real run of ``hymir_words`` (``dag.test``) and Airflow's own auth manager machinery: the
configured ``[core] auth_manager`` is ``RunsHiddenAuthManager`` below, a ``SimpleAuthManager``
that refuses DAG-run read to the user ``no-runs`` only, and logins are its JWTs. Values that a
test needs (secrets, 30 MB outputs) are written into the run's XComs and job records (the task
state store on 3.3+, the holder's XComs before) as the execution API stores them, so the view's
masking is tested apart from the operator's.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from urllib.parse import quote

import pytest

pytest.importorskip("airflow")

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

from tests.test_plugin_ui import CHROMIUM_ARGS, table_text

pytestmark = pytest.mark.airflow

DAG_ID = "hymir_view_words"
MANY_DAG_ID = "hymir_view_many"
MANY_JOBS = 450


def say(message: str) -> None:
    print(f"[view security] {message}", flush=True)


class RunsHiddenAuthManager(SimpleAuthManager):
    """Airflow's simple auth manager, except that the user ``no-runs`` may not read any DAG run."""

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
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)


@pytest.fixture(scope="module")
def auth_manager():
    """``RunsHiddenAuthManager`` as the configured auth manager of this process, for this module."""
    from airflow.api_fastapi.app import init_auth_manager, purge_cached_app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__CORE__AUTH_MANAGER", f"{__name__}.RunsHiddenAuthManager")
        purge_cached_app()
        manager = init_auth_manager()
        assert isinstance(manager, RunsHiddenAuthManager)
        yield manager
    purge_cached_app()


@pytest.fixture(scope="module")
def tokens(auth_manager) -> dict[str, str]:
    """A login (the JWT Airflow's login would give) for an admin and for a viewer barred from DAG runs."""
    return {
        "admin": auth_manager.generate_jwt(SimpleAuthManagerUser(username="admin", role="ADMIN")),
        "no-runs": auth_manager.generate_jwt(SimpleAuthManagerUser(username="no-runs", role="VIEWER")),
    }


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
    cells = {row[2]: row for row in table_text(page.text)[1:]}
    say(f"masked cells: {cells['uppercase'][9]} | {cells['uppercase_2'][7:10]}")
    assert cells["uppercase"][9] == '{"api_key": "***", "note": "signed with ***"}'
    assert cells["uppercase_2"][7] == '{"cursor": "after ***", "password": "***"}'
    assert cells["uppercase_2"][8] == "ValueError: could not log in with ***"
    assert cells["uppercase_2"][9] == 'Failure: {"token": "***", "why": "refused ***"}'

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
    cells = {row[2]: row for row in table_text(page.text)[1:]}
    assert cells["count"][9].startswith('"xxxx') and cells["count"][9].endswith("… (30.0 MB in all) full value")
    assert cells["uppercase_3"][7].endswith("… (10.0 MB in all) full value")
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


def test_chromium_loads_the_page_of_a_run_with_big_values_quickly(auth_manager, tokens, words_run, big_values):
    """The figure the issue asks for: the page's bytes and Chromium's load time, served over HTTP."""
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
            context = browser.new_context()
            context.add_cookies([{"name": "_token", "value": tokens["admin"], "url": base}])
            page = context.new_page()
            started = time.monotonic()
            response = page.goto(base + run_path(words_run), wait_until="load", timeout=60_000)
            seconds = time.monotonic() - started
            size = len(response.body())
            assert response.status == 200
            assert page.get_by_text("(30.0 MB in all)").is_visible()
        finally:
            browser.close()
    say(f"Chromium loaded the run page ({size:,} bytes) in {seconds:.2f} s")
    assert size < 1_000_000 and seconds < 5


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
    assert words_run in admin.text
    assert DAG_ID in barred.text and words_run not in barred.text
    row = next(row for row in table_text(barred.text) if row and row[0].startswith(DAG_ID))
    assert row[1] == "you may not read the runs of this DAG"


@pytest.mark.parametrize("rest", [(), ("status",), ("jobs", "count", "output"), ("jobs", "uppercase_2", "context")])
def test_without_dag_run_read_a_run_and_its_values_are_refused(view, tokens, words_run, rest):
    path = run_path(words_run, DAG_ID, *rest)
    assert get(view, tokens, path).status_code == 200
    refused = get(view, tokens, path, user="no-runs")
    assert refused.status_code == 403, refused.text
    assert words_run not in refused.text
