"""Contract tests: each Airflow detail that hymir_airflow.compat (or the value encoding) relies on, pinned.

When an Airflow upgrade breaks one, the test that fails names the assumption, so the fix goes
into the one module that knows it.
"""

from __future__ import annotations

import inspect

import pytest

pytestmark = pytest.mark.airflow
pytest.importorskip("airflow")

from airflow.sdk import DAG, BaseOperator, BaseSensorOperator  # noqa: E402

from hymir import Workflow  # noqa: E402
from hymir_airflow import compat  # noqa: E402
from hymir_airflow.operator import HymirJobOperator  # noqa: E402
from tests.jobs.core import noop  # noqa: E402


class _Plain(BaseOperator):
    def execute(self, context):
        return None


def test_reschedule_sensors_ask_the_private_next_poke_interval_hook():
    """ChosenRescheduleInterval answers BaseSensorOperator._get_next_poke_interval.

    Its parameters: (started_at, run_duration, poke_count).
    """
    hook = getattr(BaseSensorOperator, "_get_next_poke_interval", None)
    assert hook is not None, "BaseSensorOperator no longer has _get_next_poke_interval"
    assert list(inspect.signature(hook).parameters) == ["self", "started_at", "run_duration", "poke_count"]
    assert "_get_next_poke_interval" in inspect.getsource(BaseSensorOperator.execute), (
        "BaseSensorOperator.execute no longer asks _get_next_poke_interval for the reschedule date"
    )
    assert HymirJobOperator._get_next_poke_interval is compat.ChosenRescheduleInterval._get_next_poke_interval


def test_an_operator_class_without_a_constructor_of_its_own_adds_no_default_argument_pass():
    """Airflow wraps an operator class's __init__ only where it differs from its first base's.

    So HymirJobOperator, which has none of its own, pays Airflow's default-argument handling once less per task
    (see ChosenRescheduleInterval); the DAG's default arguments still reach it.
    """
    assert HymirJobOperator.__init__ is BaseSensorOperator.__init__
    with DAG("contract_default_arguments", schedule=None, default_args={"owner": "hymir-test"}):
        task = HymirJobOperator.for_job(
            workflow=Workflow(noop()), job_id="1", job_task_ids={"1": "noop"}, task_id="noop"
        )
    assert task.owner == "hymir-test"


class _Resumable(BaseOperator):
    def execute(self, context):
        return None

    def resume(self, context, event=None, record=None):
        return event, record


def test_a_deferred_task_resumes_on_a_time_trigger_with_its_deferral_kwargs():
    """time_trigger(s) fires at now + s; resume_execution(next_method, next_kwargs, context) calls the named method.

    HymirJobOperator defers a CheckLater with its record in the kwargs and resumes in ``resume_check``.
    """
    from datetime import datetime, timezone

    classpath, kwargs = compat.time_trigger(30).serialize()
    assert classpath == "airflow.providers.standard.triggers.temporal.DateTimeTrigger"
    assert abs((kwargs["moment"] - datetime.now(timezone.utc)).total_seconds() - 30) < 5
    resumed = _Resumable(task_id="resumable").resume_execution(
        "resume", {"event": "fired", "record": {"checks": 2}}, {}
    )
    assert resumed == ("fired", {"checks": 2})


def test_a_start_that_continues_its_try_is_told_apart_and_may_skip_its_rendered_fields():
    """continues_try reads task_reschedule_count and RuntimeTaskInstance._ti_context_from_server.next_method;
    the task runner sends a task's rendered fields only when it has some (HymirJobOperator skips them on such starts).
    """
    from airflow.sdk.api.datamodels._generated import TIRunContext
    from airflow.sdk.execution_time import task_runner

    assert "_ti_context_from_server" in task_runner.RuntimeTaskInstance.__private_attributes__
    assert "next_method" in TIRunContext.model_fields
    assert "if rendered_fields := _serialize_rendered_fields(ti.task)" in inspect.getsource(task_runner._prepare)

    class _Resuming:
        _ti_context_from_server = TIRunContext.model_construct(next_method="resume_check")

    assert compat.continues_try({"task_reschedule_count": 2, "ti": object()})
    assert compat.continues_try({"task_reschedule_count": 0, "ti": _Resuming()})
    assert not compat.continues_try({"task_reschedule_count": 0, "ti": object()})


def test_template_rendering_goes_through_render_template_fields():
    """Verbatim arguments: HymirJobOperator overrides BaseOperator.render_template_fields(context, jinja_env)."""
    parameters = list(inspect.signature(BaseOperator.render_template_fields).parameters)
    assert parameters == ["self", "context", "jinja_env"]


def test_the_edge_shortcut_records_what_rshift_records():
    """link_tasks leaves the same neighbour sets as ``>>``."""
    with DAG("contract_edges", schedule=None):
        a, b = _Plain(task_id="a"), _Plain(task_id="b")
        a >> b
    with DAG("contract_edges_linked", schedule=None):
        c, d = _Plain(task_id="a"), _Plain(task_id="b")
        compat.link_tasks(c, d)
    assert (
        (c.downstream_task_ids, d.upstream_task_ids) == (a.downstream_task_ids, b.upstream_task_ids) == ({"b"}, {"a"})
    )
    assert d.upstream_list == [c]


def test_the_secrets_masker_hides_known_secrets_and_sensitive_keys():
    """redact: a registered secret inside text becomes ***, and so does any value under a sensitive key name."""
    from airflow.sdk.log import mask_secret

    mask_secret("s3cr3t-contract-value")
    assert compat.redact("url postgresql://u:s3cr3t-contract-value@h/db") == "url postgresql://u:***@h/db"
    assert compat.redact({"password": "anything", "n": [1, "s3cr3t-contract-value"]}) == {
        "password": "***",
        "n": [1, "***"],
    }


def test_seal_round_trips_and_encrypts_with_a_fernet_key():
    """seal/unseal: the deployment's Fernet key (the tests configure one, as the launcher does) encrypts."""
    # Long enough that random ciphertext cannot hold it by chance (a two-letter one did, in a few percent of runs).
    secret = "correct-horse-battery-staple"
    value = {"cached_password": secret, "n": [1, 2.5, None]}
    sealed = compat.seal(value)
    assert compat.seals_encrypted() and secret not in sealed and "cached_password" not in sealed
    assert compat.unseal(sealed) == value


def test_the_installed_airflow_is_a_tested_minor_or_warns(caplog):
    """warn_if_untested: silent on a tested minor, one warning naming the tested versions otherwise."""
    tested = {compat._minor(version) for version in compat.TESTED_VERSIONS}
    assert compat.warn_if_untested() is (compat.AIRFLOW_MINOR not in tested and compat.AIRFLOW_MINOR > max(tested))
    assert compat._minor("3.4.0") > max(tested) and compat._minor("3.10.1rc1") == (3, 10)


def test_exceptions_are_the_ones_airflow_handles():
    """A Failure is raised as the AirflowFailException that Airflow's task runner does not retry."""
    from airflow.sdk.execution_time import task_runner

    source = inspect.getsource(task_runner)
    assert compat.AirflowFailException.__name__ in source, "the task runner no longer names AirflowFailException"
    assert issubclass(compat.AirflowFailException, compat.AirflowException)
    assert issubclass(compat.RetryAfter, compat.AirflowException)


@pytest.mark.skipif(not compat.HAS_RETRY_POLICY, reason="retry policies came with Airflow 3.3")
def test_a_retry_policy_chooses_the_delay_of_a_retry_after():
    """RetryPolicy.evaluate(exception, try_number, max_tries, context) -> RetryDecision.retry(delay=...)."""
    from airflow.sdk import RetryPolicy

    parameters = list(inspect.signature(RetryPolicy.evaluate).parameters)
    assert parameters[:4] == ["self", "exception", "try_number", "max_tries"], parameters
    policy = compat.retry_policy_arguments()["retry_policy"]
    decision = policy.evaluate(compat.RetryAfter("again", 2.5), 1, 5)
    assert decision.retry_delay.total_seconds() == 2.5


@pytest.mark.skipif(compat.HAS_RETRY_POLICY, reason="Airflow 3.3 has retry policies")
def test_without_retry_policies_the_operator_waits_itself():
    """Before 3.3 BaseOperator takes no retry_policy, and Hymir's default retry_delay is 0."""
    assert "retry_policy" not in inspect.signature(BaseOperator.__init__).parameters
    assert compat.retry_policy_arguments() == {} and compat.DEFAULT_RETRY_DELAY.total_seconds() == 0


@pytest.mark.skipif(compat.HAS_TASK_STATE_STORE, reason="the records holder is used before Airflow 3.3 only")
def test_an_empty_operator_is_marked_done_without_running():
    """The records holder never starts on a deployment: the scheduler marks EmptyOperators done itself."""
    from airflow.models.dagrun import DagRun

    assert "empty_ti_ids" in inspect.getsource(DagRun.schedule_tis), (
        "DagRun.schedule_tis no longer skips running EmptyOperators; the records holder would clear its XComs"
    )
    holder = compat.records_holder("hymir_records")
    assert holder.inherits_from_empty_operator


def test_a_starting_task_clears_only_its_own_xcoms():
    """A task's start clears the XComs of its own task id, so the holder's records survive the jobs' tries."""
    from airflow.api_fastapi.execution_api.routes import task_instances

    source = inspect.getsource(task_instances.ti_run)
    assert "XComModel.task_id == ti.task_id" in source, "ti_run no longer clears XComs by the task's own id"


def test_xcoms_of_another_task_can_be_written_and_read_from_a_task():
    """BaseXCom.set/get_one take the dag, task and run ids, so a job writes its record under the holder."""
    from airflow.sdk.bases.xcom import BaseXCom

    for method, names in (
        (BaseXCom.set, ["key", "value", "dag_id", "task_id", "run_id"]),
        (BaseXCom.get_one, ["key", "dag_id", "task_id", "run_id"]),
    ):
        parameters = list(inspect.signature(method).parameters)
        assert all(name in parameters for name in names), f"{method.__qualname__}{parameters}"


def test_records_are_read_from_the_store_of_this_version():
    """read_records: the task state store's or the XCom table's columns, as the version keeps records."""
    if compat.HAS_TASK_STATE_STORE:
        from airflow.models.task_state_store import TaskStateStoreModel as Model

        columns = ["dag_id", "run_id", "task_id", "key", "value"]
    else:
        from airflow.models.xcom import XComModel as Model

        columns = ["dag_id", "run_id", "task_id", "key", "value", "map_index"]
    assert all(hasattr(Model, column) for column in columns), Model


def test_the_rest_api_serves_records_where_this_version_keeps_them():
    """record_path names a route of the public REST API of the deployment's version."""
    from airflow.api_fastapi.core_api.routes.public import public_router

    paths = {route.path for route in public_router.routes}
    version = ".".join(map(str, compat.AIRFLOW_MINOR)) + ".0"
    path, query = compat.record_path(version, "d", "r", "t", "hymir", "hymir_records")
    _, item_query = compat.record_path(version, "d", "r", "t[2]", "hymir", "hymir_records")
    assert query == {}
    assert item_query == ({"map_index": 2} if compat.AIRFLOW_MINOR >= (3, 3) else {})
    template = path.replace("/d/", "/{dag_id}/").replace("/r/", "/{dag_run_id}/")
    template = template.replace("/t/", "/{task_id}/").replace("/hymir_records/", "/{task_id}/")
    prefix = "/api/v2"
    assert any(
        p.startswith(prefix) and p.removeprefix(prefix).split("/")[:-1] == template.split("/")[:-1] for p in paths
    ), sorted(p for p in paths if "taskInstances" in p)[:20]
    assert compat.has_dag_run_wait(version) is (compat.AIRFLOW_MINOR >= (3, 1))
    if compat.AIRFLOW_MINOR >= (3, 1):
        assert f"{prefix}/dags/{{dag_id}}/dagRuns/{{dag_run_id}}/wait" in paths


def test_dags_register_and_serialize_through_this_version():
    """register_dag, dag_bag and dag_serializer find Airflow's DagBag, its sync and the DAG serializer."""
    with DAG("contract_serialize", schedule=None) as dag:
        _Plain(task_id="only")
    data = compat.dag_serializer().to_dict(dag)
    assert data["dag"]["dag_id"] == "contract_serialize"
    assert compat.dag_bag(str(inspect.getfile(compat)).rsplit("/", 1)[0], collect_dags=False).dags == {}


def test_the_sensor_times_its_reschedules_from_the_first_reschedule_date():
    """BaseSensorOperator.execute reads ti.get_first_reschedule_date, which compat parses on 3.0.

    See apache/airflow#58777.
    """
    assert "get_first_reschedule_date" in inspect.getsource(BaseSensorOperator.execute)
    parsed = compat._as_datetime("2026-12-01T10:00:00.5Z")
    assert parsed.tzinfo is not None and parsed.microsecond == 500000
    assert compat._as_datetime(None) is None


def test_the_metadata_database_has_the_columns_the_readers_query():
    """dag_run_state, task_instance_rows, return_values and delete_dag_run query these model columns."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel

    wanted = {
        DagRun: ["dag_id", "run_id", "state"],
        TaskInstance: ["dag_id", "run_id", "task_id", "state", "try_number"],
        XComModel: ["dag_id", "run_id", "task_id", "key", "map_index", "value"],
    }
    missing = {model.__name__: [c for c in columns if not hasattr(model, c)] for model, columns in wanted.items()}
    assert not any(missing.values()), f"metadata models lost columns the readers query: {missing}"


def test_the_readers_answer_for_a_run_that_does_not_exist():
    """Each reader runs its query on this version's database and finds nothing for an unknown run."""
    compat.ensure_database()
    with compat.metadata_session() as session:
        assert compat.dag_run_state(session, "no_such_dag", "no_such_run") is None
        assert compat.task_instance_rows(session, "no_such_dag", "no_such_run") == []
        assert compat.return_values(session, "no_such_dag", "no_such_run", ["t"]) == {}
        assert compat.read_records(session, "no_such_dag", "no_such_run", ["t"], "hymir") == {}
        compat.delete_dag_run(session, "no_such_dag", "no_such_run")
