"""Contract tests of the Hymir view: each Airflow detail that the view's part of hymir_airflow.compat relies on.

The view (``hymir_airflow.ui``) and the plugin reach Airflow only through the section "The Hymir view
and the plugin" of ``hymir_airflow.compat``; each test here pins one assumption of it on the
installed Airflow, so an upgrade that breaks one fails here with the assumption named. The auth
manager is Airflow's default (``SimpleAuthManager``); where a test needs a user or a refusal it
replaces the manager's answer, so the contract is checked apart from JWT signing, which has a
test of its own.
"""

import dataclasses
import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

pytestmark = pytest.mark.airflow
pytest.importorskip("airflow")

from fastapi import Depends, FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails  # noqa: E402
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser  # noqa: E402

from hymir_airflow import compat  # noqa: E402
from hymir_airflow.factory import HYMIR_TAG  # noqa: E402
from hymir_airflow.state import STORE_KEY, plain_state  # noqa: E402

DAG_ID = "hymir_contract_view"
ADMIN = SimpleAuthManagerUser(username="admin", role="ADMIN")
#: What the stand-in token check below accepts: a login as ``ADMIN``.
ADMIN_TOKEN = "contract-admin-token"

UserDep = compat.user_dependency()
SessionDep = compat.session_dependency()
DagBagDep = compat.dag_bag_dependency()


@pytest.fixture(scope="module")
def auth_manager():
    """Airflow's configured (default) auth manager, made afresh for this module, on a migrated database."""
    from airflow.api_fastapi.app import init_auth_manager, purge_cached_app

    from hymir_airflow.backends.database import ensure_database

    ensure_database()
    purge_cached_app()
    yield init_auth_manager()
    purge_cached_app()


@pytest.fixture
def admin_login(auth_manager, monkeypatch):
    """The auth manager takes ``ADMIN_TOKEN`` for ``ADMIN`` and refuses every other token, without JWTs."""
    from jwt import InvalidTokenError

    async def user_from_token(token: str):
        if token != ADMIN_TOKEN:
            raise InvalidTokenError("not the contract's token")
        return ADMIN

    monkeypatch.setattr(auth_manager, "get_user_from_token", user_from_token)
    return auth_manager


@pytest.fixture(scope="module")
def dag_run():
    """A registered Hymir DAG (the README workflow) and a triggered, never run, run of it."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    from hymir.examples.words import words_workflow
    from hymir_airflow import workflow_to_dag
    from hymir_airflow.backends.database import ensure_database

    ensure_database()
    compat.register_dag(workflow_to_dag(words_workflow(), dag_id=DAG_ID))
    run = trigger_dag(DAG_ID, triggered_by=DagRunTriggeredByType.TEST, run_id=f"contract-{uuid.uuid4().hex[:8]}")
    return run.run_id


@pytest.fixture
def session():
    from airflow.utils.session import create_session

    with create_session() as session:
        yield session


def bearer(token: str = ADMIN_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- The plugin ------------------------------------------------------------------------------------


def test_plugins_have_fastapi_apps_and_external_views_exactly_where_has_external_views_says():
    """airflow_plugin_class: AirflowPlugin takes ``fastapi_apps`` on every minor, ``external_views`` since 3.1."""
    from airflow import plugins_manager

    from hymir_airflow.plugin import HymirPlugin

    plugin_class = compat.airflow_plugin_class()
    assert plugin_class is plugins_manager.AirflowPlugin and issubclass(HymirPlugin, plugin_class)
    assert hasattr(plugin_class, "fastapi_apps"), "AirflowPlugin no longer has fastapi_apps: the view has no mount"
    assert hasattr(plugin_class, "external_views") == compat.HAS_EXTERNAL_VIEWS, (
        f"HAS_EXTERNAL_VIEWS is {compat.HAS_EXTERNAL_VIEWS}, but AirflowPlugin "
        f"{'has' if hasattr(plugin_class, 'external_views') else 'has no'} external_views"
    )
    assert bool(HymirPlugin.external_views) == compat.HAS_EXTERNAL_VIEWS


def ui_bundle() -> str:
    """The JavaScript of the installed Airflow UI (its router and pages)."""
    import airflow

    assets = Path(airflow.__file__).parent / "ui" / "dist" / "assets"
    return "".join(path.read_text(encoding="utf-8") for path in sorted(assets.glob("index-*.js")))


def test_the_ui_has_the_pages_the_view_links_to():
    """ui_page: the UI's router has the DAG, run and (mapped) task-instance routes; logs read ``try_number``."""
    bundle = ui_bundle()
    routes = (
        "dags/:dagId",
        "dags/:dagId/runs/:runId",
        "dags/:dagId/runs/:runId/tasks/:taskId",
        "dags/:dagId/runs/:runId/tasks/:taskId/mapped/:mapIndex",
    )
    for route in routes:
        assert re.search(rf"path:[\"`]{re.escape(route)}[\"`]", bundle), f"the UI has no route {route}"
    assert "try_number" in bundle
    assert compat.ui_page() == ""
    assert compat.ui_page(dag_id="d") == "dags/d"
    assert compat.ui_page(dag_id="d", run_id="manual__1+00:00") == "dags/d/runs/manual__1%2B00%3A00"
    assert compat.ui_page(dag_id="d", run_id="r", task_id="t", try_number=2) == "dags/d/runs/r/tasks/t?try_number=2"
    assert compat.ui_page(dag_id="d", run_id="r", task_id="t", map_index=3) == "dags/d/runs/r/tasks/t/mapped/3"


def test_the_ui_takes_the_login_cookie_into_local_storage_exactly_where_ui_login_storage_key_says():
    """UI_LOGIN_STORAGE_KEY: 3.0's UI expires the ``_token`` cookie once it has stored the login; 3.1+ keeps it."""
    bundle = ui_bundle()
    expires_cookie = re.search(r"[\"`]_token=; expires=", bundle) is not None
    assert expires_cookie == (compat.UI_LOGIN_STORAGE_KEY is not None)
    if compat.UI_LOGIN_STORAGE_KEY:
        assert f'="{compat.UI_LOGIN_STORAGE_KEY}"' in bundle and "localStorage.setItem(" in bundle


@pytest.mark.skipif(not compat.HAS_EXTERNAL_VIEWS, reason="no external views before 3.1")
def test_the_ui_fills_in_the_dag_and_run_ids_of_a_run_tabs_href():
    """The run tab's href: the UI replaces ``{DAG_ID}`` and ``{RUN_ID}`` (URL-encoded since 3.2)."""
    from hymir_airflow.plugin import RUN_TAB

    bundle = ui_bundle()
    for placeholder in ("{DAG_ID}", "{RUN_ID}"):
        assert placeholder in RUN_TAB["href"]
        filled = re.search(rf"replaceAll\([\"`]{re.escape(placeholder)}[\"`],(encodeURIComponent\()?", bundle)
        assert filled, f"the UI no longer fills in {placeholder}"
        assert bool(filled.group(1)) == (compat.AIRFLOW_MINOR >= (3, 2)), f"{placeholder} is encoded differently"


def test_the_views_links_to_airflow_start_at_the_ui_base_the_api_server_gives_the_ui(dag_run, admin_login):
    """The view's Airflow links start where the UI's ``<base href>`` points, also under an ``[api] base_url`` path.

    The view is mounted in an app with a root path as the api-server mounts it in its own, whose UI page
    (``init_views``) says where the UI's base is.
    """
    from airflow.api_fastapi.core_api.app import init_views

    from hymir_airflow.ui.app import create_app

    api_server = FastAPI(root_path="/airflow")
    api_server.mount("/hymir", create_app())
    init_views(api_server)
    client = TestClient(api_server)
    base = re.search(r'<base href="([^"]*)"', client.get("/airflow/dags").text).group(1)
    assert base == "/airflow/"
    page = client.get(f"/airflow/hymir/dags/{DAG_ID}/runs/{quote(dag_run, safe='')}", headers=bearer())
    assert page.status_code == 200, page.text
    assert f'href="{base}{compat.ui_page(dag_id=DAG_ID)}"' in page.text


# --- The app's dependencies -----------------------------------------------------------------------


def test_the_dag_bag_and_session_dependencies_hand_routes_the_apps_bag_and_a_database_session():
    """new_dag_bag, dag_bag_dependency, session_dependency: Airflow's create_dag_bag, DagBagDep and SessionDep."""
    app = FastAPI()
    app.state.dag_bag = compat.new_dag_bag()

    @app.get("/")
    def route(dag_bag: DagBagDep, session: SessionDep) -> dict:
        return {"same_bag": dag_bag is app.state.dag_bag, "one": session.execute(text("SELECT 1")).scalar()}

    assert TestClient(app).get("/").json() == {"same_bag": True, "one": 1}, (
        "DagBagDep no longer reads request.app.state.dag_bag, or SessionDep gives no working session"
    )


def user_app() -> FastAPI:
    """An app as the view makes it: a route of the logged-in user's name, and the login cookie accepted."""
    app = FastAPI()

    @app.get("/me")
    def me(user: UserDep) -> str:
        return user.get_name()

    compat.accept_login_cookie(app)
    return app


def test_the_user_dependency_takes_a_bearer_token_or_the_login_cookie(admin_login):
    """user_dependency + accept_login_cookie: a route gets the user from ``Authorization`` or the ``_token`` cookie."""
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    client = TestClient(user_app())
    assert COOKIE_NAME_JWT_TOKEN == "_token", "Airflow's login cookie is no longer _token (the browser test logs in)"
    assert client.get("/me").status_code == 401, "GetUserDep no longer answers 401 when nobody is logged in"
    assert client.get("/me", headers=bearer()).json() == "admin"
    assert client.get("/me", headers=bearer("forged")).status_code == 403, "GetUserDep took a token it refuses"
    client.cookies.set(COOKIE_NAME_JWT_TOKEN, ADMIN_TOKEN)
    assert client.get("/me").json() == "admin", "a browser's login cookie does not reach the user dependency"


def test_accept_login_cookie_is_needed_exactly_where_airflows_user_dependency_ignores_the_cookie(admin_login):
    """accept_login_cookie adds its middleware before 3.1 only: 3.0's GetUserDep reads only the header."""
    app = FastAPI()

    @app.get("/me")
    def me(user: UserDep) -> str:
        return user.get_name()

    client = TestClient(app)
    client.cookies.set("_token", ADMIN_TOKEN)
    reads_cookie = client.get("/me").status_code == 200
    assert reads_cookie == (compat.AIRFLOW_MINOR >= (3, 1)), (
        f"Airflow's GetUserDep {'reads' if reads_cookie else 'ignores'} the login cookie on this minor: "
        "accept_login_cookie's version check is wrong"
    )


def test_the_dag_read_dependency_asks_the_auth_manager_about_the_paths_dag(admin_login, monkeypatch):
    """dag_read_dependency(entity): requires_access_dag("GET", DagAccessEntity[entity]) on the path's dag_id."""
    asked = []

    def is_authorized_dag(*, method, user, access_entity=None, details=None):
        asked.append((method, access_entity, details.id, user.get_name()))
        return details.id != "hidden"

    monkeypatch.setattr(admin_login, "is_authorized_dag", is_authorized_dag)
    app = FastAPI()
    access = [Depends(compat.dag_read_dependency(entity)) for entity in ("RUN", "TASK_INSTANCE", "XCOM")]

    @app.get("/dags/{dag_id}/runs/{run_id}", dependencies=access)
    def run(dag_id: str, run_id: str) -> str:
        return run_id

    client = TestClient(app)
    assert client.get("/dags/open/runs/r1", headers=bearer()).json() == "r1"
    assert client.get("/dags/hidden/runs/r1", headers=bearer()).status_code == 403, (
        "requires_access_dag no longer refuses with 403 when the auth manager says no"
    )
    entities = [DagAccessEntity.RUN, DagAccessEntity.TASK_INSTANCE, DagAccessEntity.XCOM]
    assert asked[:3] == [("GET", entity, "open", "admin") for entity in entities]


# --- The auth manager's answers ---------------------------------------------------------------------


def test_readable_dag_ids_and_run_readable_dag_ids_ask_the_auth_manager(auth_manager, dag_run, monkeypatch):
    """readable_dag_ids: get_authorized_dag_ids(user, method); run_readable_dag_ids: is_authorized_dag per DAG."""
    assert DAG_ID in compat.readable_dag_ids(ADMIN)
    asked = []

    def is_authorized_dag(*, method, user, access_entity=None, details=None):
        asked.append((method, access_entity, details))
        return details.id == DAG_ID

    monkeypatch.setattr(auth_manager, "is_authorized_dag", is_authorized_dag)
    assert compat.run_readable_dag_ids(ADMIN, [DAG_ID, "hymir_contract_other"]) == {DAG_ID}
    assert {(method, entity) for method, entity, _ in asked} == {("GET", DagAccessEntity.RUN)}
    fields = {field.name for field in dataclasses.fields(DagDetails)}
    assert ("team_name" in fields) == (compat.AIRFLOW_MINOR >= (3, 1)), (
        "DagDetails has team_name exactly since 3.1; the details given to the auth manager assume so"
    )
    assert all(isinstance(details, DagDetails) for _, _, details in asked)
    if "team_name" in fields:
        assert [details.team_name for _, _, details in asked] == [None, None], "a DAG of no team got a team"


def test_login_url_names_the_page_to_come_back_to_once(auth_manager):
    """login_url: the auth manager's login page with one ``next`` parameter (before 3.3 the manager drops it)."""
    back = "http://127.0.0.1:8080/hymir/dags/d/runs/r?page=2"
    url = compat.login_url(back)
    assert urlsplit(url).path == urlsplit(auth_manager.get_url_login()).path
    assert parse_qs(urlsplit(url).query)["next"] == [back]


def test_airflow_signs_and_reads_back_the_login_tokens_the_view_is_given(auth_manager):
    """Airflow's own login works with the installed PyJWT: a token it signs names its user again."""
    import asyncio

    try:
        token = auth_manager.generate_jwt(ADMIN)
    except TypeError as error:
        pytest.fail(
            f"Airflow cannot sign a login token ({error}): Airflow 3.0 puts an empty issuer into tokens, which "
            "PyJWT 2.11+ refuses (apache/airflow#61278); pin pyjwt<2.11 or set [api_auth] jwt_issuer"
        )
    assert asyncio.run(auth_manager.get_user_from_token(token)).get_name() == "admin"


# --- The metadata database --------------------------------------------------------------------------


def test_tagged_dags_and_latest_runs_read_dag_and_dag_run_rows(session, dag_run):
    """tagged_dags: DagModel/DagTag with is_stale and is_paused; latest_runs: DagRun by run_after."""
    from airflow.models.dag import DagModel

    paused = DagModel.get_dagmodel(DAG_ID, session=session).is_paused
    assert compat.tagged_dags(session, HYMIR_TAG, [DAG_ID, "hymir_contract_other"]) == [(DAG_ID, paused)]
    assert compat.tagged_dags(session, "no-such-tag", [DAG_ID]) == []
    ((run_id, state, run_after),) = compat.latest_runs(session, DAG_ID, 5)
    assert (run_id, plain_state(state)) == (dag_run, "queued") and run_after is not None


def test_find_dag_run_and_dag_of_run_give_the_run_and_its_serialized_dag(session, dag_run):
    """find_dag_run: the DagRun row; dag_of_run: the serialized DAG of its version, whose tasks keep Hymir's fields."""
    run = compat.find_dag_run(session, DAG_ID, dag_run)
    assert run.run_id == dag_run and hasattr(run, "start_date") and hasattr(run, "end_date")
    assert compat.find_dag_run(session, DAG_ID, "no-such-run") is None
    dag = compat.dag_of_run(session, compat.new_dag_bag(), run)
    jobs = {task.task_id for task in dag.tasks if getattr(task, "hymir_job_id", None) is not None}
    assert jobs == {"uppercase", "uppercase_2", "uppercase_3", "count"}, (
        "the serialized DAG's tasks no longer carry hymir_job_id"
    )


def test_serialized_tasks_keep_their_jobs_arguments_and_runs_get_the_dags_params_and_their_conf(session):
    """job_arguments: the template fields job_args/job_kwargs survive serialization; run_params: defaults + conf."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    from hymir import Chain, Workflow
    from hymir.examples.words import count, uppercase
    from hymir_airflow import workflow_to_dag

    dag_id = "hymir_contract_arguments"
    workflow = Workflow(
        Chain(uppercase("hello"), uppercase(word="x" * 5000), count()), params={"limit": 3, "ask": "no"}
    )
    compat.register_dag(workflow_to_dag(workflow, dag_id=dag_id))
    run_id = f"contract-{uuid.uuid4().hex[:8]}"
    trigger_dag(dag_id, triggered_by=DagRunTriggeredByType.TEST, run_id=run_id, conf={"limit": 5, "extra": True})
    run = compat.find_dag_run(session, dag_id, run_id)
    dag = compat.dag_of_run(session, compat.new_dag_bag(), run)
    arguments = {task.task_id: compat.job_arguments(task) for task in dag.tasks if task.task_id != "count"}
    assert arguments["uppercase"] == (["hello"], {})
    args, kwargs = arguments["uppercase_2"]
    assert args == [] and isinstance(kwargs, str) and kwargs.startswith("Truncated."), "long arguments are kept whole"
    assert compat.run_params(dag, run) == {"limit": 5, "ask": "no", "extra": True}


def test_import_errors_and_the_dags_of_their_files_are_read_from_the_database(session, dag_run, auth_manager):
    """import_errors: ParseImportError rows; dags_of_files: DagModel by bundle and file column; dag_file_start.

    An import error names its file as Airflow's DAG table names the file of a DAG (dag_file_column): relative
    to the bundle since 3.1, the absolute path on 3.0 (the browser test sees the dag-processor do so).
    """
    from datetime import datetime, timezone

    from sqlalchemy import delete, select

    from airflow.models.dag import DagModel
    from airflow.models.errors import ParseImportError

    bundle, file = session.execute(
        select(DagModel.bundle_name, compat.dag_file_column()).where(DagModel.dag_id == DAG_ID)
    ).one()
    when = datetime.now(timezone.utc)
    session.add(ParseImportError(filename=file, bundle_name=bundle, stacktrace="SyntaxError: no", timestamp=when))
    session.flush()
    try:
        assert (file, bundle, "SyntaxError: no") in [error[:3] for error in compat.import_errors(session)]
        assert compat.dags_of_files(session, [file], HYMIR_TAG)[(bundle, file)][DAG_ID] is True
        assert compat.dags_of_files(session, ["no_such_file.py"], HYMIR_TAG) == {}
    finally:
        session.execute(delete(ParseImportError).where(ParseImportError.filename == file))
    written = Path(compat.config().get("core", "dags_folder")) / "contract_start.py"
    written.write_text("from hymir_airflow import workflow_to_dag\n")
    try:
        assert compat.dag_file_start("dags-folder", written.name, 10) == "from hymir"
        assert compat.dag_file_start("dags-folder", "no_such_file.py", 10) is None
        assert compat.dag_file_start("no-such-bundle", written.name, 10) is None
    finally:
        written.unlink()
    assert compat.may_read_import_errors(ADMIN) and compat.may_read_every_dag(ADMIN)


def test_task_instance_totals_count_the_runs_task_instances_by_state(session, dag_run):
    """task_instance_totals: (state, count, sum of try numbers) of TaskInstance rows per state."""
    from sqlalchemy import func, select

    from airflow.models.taskinstance import TaskInstance

    count = session.scalar(select(func.count()).where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == dag_run))
    totals = compat.task_instance_totals(session, DAG_ID, dag_run)
    assert count > 0 and sum(number for _, number, _ in totals) == count
    assert compat.task_instance_totals(session, DAG_ID, "no-such-run") == []


def test_stored_outputs_and_records_are_read_back_and_change_the_runs_version(dag_run):
    """store_xcom/store_record write where MetadataDatabase and records_version/return_value_totals read."""
    from airflow.utils.session import create_session

    from hymir_airflow.backends.database import MetadataDatabase

    def versions() -> tuple:
        with create_session() as session:
            return (
                compat.return_value_totals(session, DAG_ID, dag_run),
                compat.records_version(session, DAG_ID, dag_run, STORE_KEY),
            )

    before = versions()
    with create_session() as session:
        compat.store_xcom(session, DAG_ID, dag_run, "count", "return_value", {"n": [1, 2]})
    after_output = versions()
    with create_session() as session:
        compat.store_record(session, DAG_ID, dag_run, "count", STORE_KEY, {"checks": 1})
    after_record = versions()
    with create_session() as session:
        compat.store_record(session, DAG_ID, dag_run, "count", STORE_KEY, {"checks": 2})
    rewritten = versions()

    database = MetadataDatabase()
    assert database.return_values(DAG_ID, dag_run, ["count"]) == {"count": {"n": [1, 2]}}
    assert database.records(DAG_ID, dag_run, ["count"]) == {"count": {"checks": 2}}
    assert after_output[0][0] == before[0][0] + 1 and after_output[1] == before[1]
    assert after_record[1][0] == before[1][0] + 1, "records_version does not count the stored record"
    assert rewritten[1] != after_record[1], "records_version does not change when a record is stored again"
