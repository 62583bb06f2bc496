"""The Airflow adapter against a real Airflow 3.3: the DAG the factory builds, how Airflow loads and
serializes it, and what a run leaves in Airflow's own tables and task logs.

Runs go through ``dag.test()`` on the private SQLite database of conftest (the ``airflow_executor``
fixture). Nothing of Airflow is mocked; only ``random`` in the operator, to fix a retry delay.
"""

from __future__ import annotations

import json
import re
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

pytest.importorskip("airflow")

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from airflow.models.taskinstance import TaskInstance
from airflow.models.taskinstancehistory import TaskInstanceHistory
from airflow.models.taskreschedule import TaskReschedule
from airflow.sdk import TaskGroup
from airflow.utils.session import create_session

from hymir import Chain, Group, InvalidWorkflow, JobStatus, Workflow, WorkflowStatus
from hymir.examples.cleanup import cleanup_workflow
from hymir.job import RETRY_LIMIT
from hymir_airflow import AirflowExecutor, HymirJobOperator, compat, workflow_to_dag
from hymir_airflow.compat import dag_bag, dag_serializer
from hymir_airflow.operator import HymirItemOperator
from hymir_airflow.state import JobRecord
from tests.jobs import adapter as adapter_jobs
from tests.jobs import scenario as jobs

pytestmark = pytest.mark.airflow

REPOSITORY = Path(__file__).resolve().parent.parent

#: Airflow's defaults for a sensor, which a job without meta keeps.
SENSOR_DEFAULT_TIMEOUT = timedelta(days=7).total_seconds()


# --- helpers ---------------------------------------------------------------------------------


def job_tasks(dag) -> list:
    """The DAG's tasks but the one that keeps the jobs' records where Airflow has no task state store."""
    return [task for task in dag.tasks if task.task_id != compat.RECORDS_TASK_ID]


def task_id_map(dag) -> dict[str, str]:
    """Job identity -> task id, as the DAG's tasks report it."""
    return {task.hymir_job_id: task.task_id for task in job_tasks(dag)}


def edges(dag) -> set[tuple[str, str]]:
    """Every (upstream task id, downstream task id) edge between the DAG's job tasks."""
    tasks = job_tasks(dag)
    ids = {task.task_id for task in tasks}
    return {(upstream, task.task_id) for task in tasks for upstream in task.upstream_task_ids if upstream in ids}


def workflow_edges(workflow: Workflow, task_ids: dict[str, str]) -> set[tuple[str, str]]:
    """The workflow's dependency edges, in task ids."""
    return {(task_ids[up], task_ids[job_id]) for job_id, preds in workflow.dependencies for up in preds}


def task_instance(dag_id: str, run_id: str, task_id: str) -> TaskInstance:
    with create_session() as session:
        ti = session.scalar(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id
            )
        )
        session.expunge(ti)
        return ti


def history(dag_id: str, run_id: str, task_id: str) -> list[TaskInstanceHistory]:
    """The archived earlier tries of a task instance, oldest first."""
    with create_session() as session:
        rows = list(
            session.scalars(
                select(TaskInstanceHistory)
                .where(
                    TaskInstanceHistory.dag_id == dag_id,
                    TaskInstanceHistory.run_id == run_id,
                    TaskInstanceHistory.task_id == task_id,
                )
                .order_by(TaskInstanceHistory.try_number)
            )
        )
        for row in rows:
            session.expunge(row)
        return rows


def reschedules(ti: TaskInstance) -> list[TaskReschedule]:
    with create_session() as session:
        rows = list(session.scalars(TaskReschedule.stmt_for_task_instance(ti)))
        for row in rows:
            session.expunge(row)
        return rows


def run_on_airflow(executor: AirflowExecutor, workflow: Workflow) -> tuple[str, str]:
    """Run a workflow with dag.test(); return (dag id, run id)."""
    run_id = executor.run(workflow)
    return executor.dag_id(run_id), run_id


# --- 1. the DAG the factory builds -----------------------------------------------------------


def test_one_operator_per_job_with_readable_task_ids_docs_and_arguments():
    workflow = Workflow(
        Chain(
            Group(jobs.shout("a"), jobs.shout("b"), jobs.shout("c")), jobs.count_words(), adapter_jobs.undocumented(1)
        )
    )

    dag = workflow_to_dag(workflow, dag_id="structure")

    assert [task.task_id for task in job_tasks(dag)] == ["shout", "shout_2", "shout_3", "count_words", "undocumented"]
    assert all(isinstance(task, HymirJobOperator) for task in job_tasks(dag))
    assert task_id_map(dag) == {"1": "shout", "2": "shout_2", "3": "shout_3", "4": "count_words", "5": "undocumented"}
    assert [task.job_args for task in job_tasks(dag)] == [["a"], ["b"], ["c"], [], [1]]
    assert dag.get_task("shout_3").doc_md == 'Uppercase a word.\n\nHymir job "3" runs `tests.jobs.scenario.shout`.'
    assert dag.get_task("count_words").doc_md.startswith("Receive every uppercased word, in graph order.\n\n")
    assert dag.get_task("undocumented").doc_md == 'Hymir job "5" runs `tests.jobs.adapter.undocumented`.'
    for task in job_tasks(dag):
        assert task.mode == "reschedule"
        assert task.retries == RETRY_LIMIT + 3 and task.airflow_retries == 3
        assert {"job_args", "job_kwargs"} <= set(task.template_fields)
    assert "hymir" in dag.tags


def test_own_tags_are_kept_beside_the_hymir_tag():
    dag = workflow_to_dag(Workflow(Chain(jobs.produce(1))), dag_id="tags", tags=["team-a"])

    assert set(dag.tags) == {"team-a", "hymir"}


def test_a_function_named_like_a_suffixed_id_does_not_clash():
    workflow = Workflow(
        Group(jobs.produce(1), adapter_jobs.produce_2(2), jobs.produce(3), adapter_jobs.produce_2(4), jobs.produce(5))
    )

    dag = workflow_to_dag(workflow, dag_id="clashes")

    assert task_id_map(dag) == {
        "1": "produce",
        "2": "produce_2",
        "3": "produce_3",
        "4": "produce_2_2",
        "5": "produce_4",
    }
    assert [task.job_args for task in job_tasks(dag)] == [[1], [2], [3], [4], [5]]


def test_task_groups_do_not_take_the_id_of_a_task():
    workflow = Workflow(Chain(Group(adapter_jobs.group_1(), jobs.produce(1)), Group(jobs.tally("a"), jobs.tally("b"))))

    dag = workflow_to_dag(workflow, dag_id="group_names")

    assert [task.task_id for task in job_tasks(dag)] == ["group_1", "produce", "tally", "tally_2"]
    assert {task.task_id: task.task_group.group_id for task in job_tasks(dag)} == {
        "group_1": "group_2",
        "produce": "group_2",
        "tally": "group_3",
        "tally_2": "group_3",
    }


@pytest.mark.parametrize(
    "workflow",
    [
        pytest.param(lambda: Workflow(Chain(jobs.produce(1), jobs.double(), jobs.tally("x"))), id="chain"),
        pytest.param(
            lambda: Workflow(
                Chain(Group(jobs.shout("a"), Chain(jobs.shout("b"), jobs.produce(2))), jobs.count_words())
            ),
            id="nested",
        ),
        pytest.param(
            lambda: Workflow.from_graph(
                {"a": jobs.produce(1), "b": jobs.tally("b"), "c": jobs.tally("c"), "d": jobs.double()},
                [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")],
            ),
            id="diamond-from-graph",
        ),
    ],
)
@pytest.mark.parametrize("task_groups", [True, False], ids=["groups", "flat"])
def test_edges_are_the_workflow_dependencies(workflow, task_groups):
    workflow = workflow()

    dag = workflow_to_dag(workflow, dag_id="edges", task_groups=task_groups)

    assert edges(dag) == workflow_edges(workflow, task_id_map(dag))
    assert [task.hymir_job_id for task in job_tasks(dag)] == list(workflow.jobs)


def test_nested_chains_and_groups_become_task_groups_without_renaming_tasks():
    workflow = Workflow(Chain(Group(jobs.shout("a"), Chain(jobs.shout("b"), jobs.produce(1))), jobs.count_words()))

    dag = workflow_to_dag(workflow, dag_id="groups")
    flat = workflow_to_dag(workflow, dag_id="flat", task_groups=False)

    group_of = {task.task_id: task.task_group.group_id for task in job_tasks(dag)}
    assert group_of == {"shout": "group_1", "shout_2": "chain_1", "produce": "chain_1", "count_words": None}
    chain = dag.task_group.get_task_group_dict()["chain_1"]
    assert chain.parent_group.group_id == "group_1"
    assert chain.prefix_group_id is False
    # The same task ids either way, so links, logs and XCom keys do not depend on the option.
    assert [task.task_id for task in job_tasks(flat)] == [task.task_id for task in job_tasks(dag)]
    assert edges(flat) == edges(dag)
    assert not [child for child in flat.task_group.children.values() if isinstance(child, TaskGroup)]
    assert {task.task_group.group_id for task in job_tasks(flat)} == {None}


def test_tasks_of_one_function_show_their_arguments_as_display_names():
    long_word = "a word much longer than twenty-four characters"
    workflow = Workflow(Chain(Group(jobs.shout("a"), jobs.shout(long_word)), jobs.count_words()))

    dag = workflow_to_dag(workflow, dag_id="display_names")

    shown = {task.task_id: task.task_display_name for task in job_tasks(dag)}
    # Task ids stay short and stable; what the Grid and Graph views show tells the jobs apart.
    assert shown == {"shout": 'shout("a")', "shout_2": 'shout("a word much longer tha…)', "count_words": "count_words"}


def test_on_finished_callback_is_a_teardown_after_every_leaf():
    workflow = cleanup_workflow()

    dag = workflow_to_dag(workflow, dag_id="cleanup")

    report = dag.get_task("report")
    assert report.is_teardown
    assert report.hymir_job_id == workflow.callback_ids()[0]
    assert report.upstream_task_ids == {"load_rows", "load_rows_2", "load_rows_3"}
    assert not report.downstream_task_ids
    assert [task.task_id for task in job_tasks(dag) if task.is_teardown] == ["report"]


def test_on_finished_callback_follows_only_the_leaves_of_a_chain():
    workflow = Workflow(Chain(jobs.produce(1), Group(jobs.tally("x"), jobs.tally("y"))))
    workflow.on(Workflow.Callbacks.ON_FINISHED, jobs.report())

    dag = workflow_to_dag(workflow, dag_id="leaves")

    assert dag.get_task("report").upstream_task_ids == {"tally", "tally_2"}
    assert dag.get_task("report").is_teardown


# --- 2. meta={"airflow": {...}} --------------------------------------------------------------


def test_meta_overrides_become_operator_arguments():
    overrides = {
        "queue": "gpu",
        "pool": "scarce",
        "priority_weight": 9,
        "execution_timeout": 90,
        "retries": 7,
        "check_interval": 5,
        "check_timeout": 60,
        "retry_on_exception": True,
        "deferrable": True,
    }
    workflow = Workflow(Chain(jobs.produce(1), jobs.tally("x").with_meta(airflow=overrides)))

    dag = workflow_to_dag(workflow, dag_id="meta")

    plain, tuned = dag.get_task("produce"), dag.get_task("tally")
    assert tuned.queue == "gpu"
    assert tuned.pool == "scarce"
    assert tuned.priority_weight == 9
    assert tuned.execution_timeout == timedelta(seconds=90)
    assert tuned.airflow_retries == 7 and tuned.retries == RETRY_LIMIT + 7
    assert tuned.poke_interval == 5
    assert tuned.timeout == 60
    assert tuned.retry_on_exception is True and plain.retry_on_exception is False
    assert tuned.deferrable is True and plain.deferrable is False
    # The other job keeps the defaults.
    assert plain.queue == "default" and plain.pool == "default_pool"
    assert plain.priority_weight == 1 and plain.execution_timeout is None
    assert plain.airflow_retries == 3 and plain.poke_interval == 30 and plain.timeout == SENSOR_DEFAULT_TIMEOUT


def test_meta_durations_may_be_fractions_of_a_second():
    meta = {"execution_timeout": 0.5, "check_interval": 0.25, "check_timeout": 1.5}
    dag = workflow_to_dag(Workflow(Chain(jobs.produce(1).with_meta(airflow=meta))), dag_id="durations")

    task = dag.get_task("produce")
    assert task.execution_timeout == timedelta(seconds=0.5)
    assert task.poke_interval == 0.25
    assert task.timeout == 1.5


def test_factory_durations_may_be_timedeltas():
    # Job meta travels as JSON with the workflow, so it holds seconds; the factory's own
    # arguments are Python and may be timedeltas.
    workflow = Workflow(Chain(jobs.produce(1)))

    dag = workflow_to_dag(
        workflow, dag_id="durations", check_interval=timedelta(seconds=3), check_timeout=timedelta(hours=1)
    )

    assert dag.get_task("produce").poke_interval == 3
    assert dag.get_task("produce").timeout == 3600


def test_factory_check_interval_and_timeout_are_defaults_that_meta_overrides():
    workflow = Workflow(Chain(jobs.produce(1), jobs.tally("x").with_meta(airflow={"check_interval": 2})))

    dag = workflow_to_dag(workflow, dag_id="checks", check_interval=10, check_timeout=120)

    assert dag.get_task("produce").poke_interval == 10 and dag.get_task("produce").timeout == 120
    assert dag.get_task("tally").poke_interval == 2 and dag.get_task("tally").timeout == 120


def test_sensor_settings_in_default_args_reach_every_task():
    # An Airflow user sets sensor defaults for a whole DAG through default_args, as for any DAG;
    # explicit factory arguments and job meta still win over them.
    workflow = Workflow(Chain(jobs.produce(1), jobs.tally("x").with_meta(airflow={"check_timeout": 30})))

    dag = workflow_to_dag(workflow, dag_id="sensor_defaults", default_args={"timeout": 600, "poke_interval": 5})

    assert dag.get_task("produce").timeout == 600
    assert dag.get_task("produce").poke_interval == 5
    assert dag.get_task("tally").timeout == 30


@pytest.mark.parametrize(
    "default_args, expected",
    [
        (None, {"produce": 3, "tally": 5}),
        ({"retries": 1}, {"produce": 1, "tally": 5}),
        ({"retries": 0}, {"produce": 0, "tally": 5}),
    ],
    ids=["hymir-default", "default-args", "default-args-zero"],
)
def test_default_retries_come_from_default_args_or_hymir(default_args, expected):
    workflow = Workflow(Chain(jobs.produce(1), jobs.tally("x").with_meta(airflow={"retries": 5})))

    dag = workflow_to_dag(workflow, dag_id="retries", default_args=default_args)

    assert {task.task_id: task.airflow_retries for task in job_tasks(dag)} == expected
    assert all(task.retries == RETRY_LIMIT + task.airflow_retries for task in job_tasks(dag))


@pytest.mark.parametrize(
    "meta, names",
    [
        pytest.param({"queus": "gpu"}, ["unknown key 'queus'", "queue"], id="unknown-key"),
        pytest.param({"retries": -1}, ["['retries']", "-1"], id="negative-retries"),
        pytest.param({"retries": 2.5}, ["['retries']", "2.5"], id="fractional-retries"),
        pytest.param({"retries": True}, ["['retries']", "True"], id="boolean-retries"),
        pytest.param({"execution_timeout": "soon"}, ["['execution_timeout']", "'soon'"], id="text-timeout"),
        pytest.param({"check_interval": -5}, ["['check_interval']", "-5"], id="negative-interval"),
        pytest.param({"check_timeout": [1]}, ["['check_timeout']", "[1]"], id="list-timeout"),
        pytest.param({"queue": ""}, ["['queue']", "''"], id="empty-queue"),
        pytest.param({"pool": 3}, ["['pool']", "3"], id="numeric-pool"),
        pytest.param({"retry_on_exception": "yes"}, ["['retry_on_exception']", "'yes'"], id="text-flag"),
        pytest.param({"priority_weight": "high"}, ["['priority_weight']", "'high'"], id="text-priority"),
        # Values the meta check lets through today, which Airflow then refuses with its own
        # error (a TypeError, a ValueError or a serialization error) that does not name the meta key.
        pytest.param({"priority_weight": 2.5}, ["['priority_weight']", "2.5"], id="fractional-priority"),
        pytest.param({"pool_slots": 0}, ["['pool_slots']", "0"], id="zero-pool-slots"),
        pytest.param({"weight_rule": "heaviest"}, ["['weight_rule']", "'heaviest'"], id="unknown-weight-rule"),
    ],
)
def test_bad_meta_is_refused_naming_the_job_and_key(meta, names):
    workflow = Workflow(Chain(jobs.produce(1), jobs.tally("x").with_meta(airflow=meta)))

    with pytest.raises(InvalidWorkflow) as raised:  # noqa: PT012 (either statement may refuse the meta)
        dag = workflow_to_dag(workflow, dag_id="bad_meta")
        # Some bad values only surface when Airflow serializes the DAG (as the dag-processor does).
        dag_serializer().serialize_dag(dag)

    message = str(raised.value)
    assert "job 2 (tests.jobs.scenario.tally)" in message
    for name in names:
        assert name in message


def test_meta_airflow_must_be_a_dict():
    workflow = Workflow(Chain(jobs.produce(1).with_meta(airflow="gpu")))

    with pytest.raises(
        InvalidWorkflow, match=r"job 1 \(tests\.jobs\.scenario\.produce\): meta\['airflow'\] must be a dict"
    ):
        workflow_to_dag(workflow, dag_id="bad_meta")


def test_other_meta_is_ignored():
    workflow = Workflow(Chain(jobs.produce(1).with_meta(owner_team="data", celery={"queue": "x"})))

    dag = workflow_to_dag(workflow, dag_id="other_meta")

    assert dag.get_task("produce").queue == "default"


# --- 3. DAG files loaded by Airflow's own DagBag ---------------------------------------------

BAD_DAG_FILES = {
    "no-producer": (
        "Workflow(Chain(jobs.double()))",
        ["job 1 (tests.jobs.scenario.double)", "input 'value'", "no job produces it"],
    ),
    "producer-after-consumer": (
        "Workflow(Chain(jobs.double(), jobs.produce(1)))",
        ["job 1 (tests.jobs.scenario.double)", "input 'value'", "does not run before it"],
    ),
    "unknown-meta-key": (
        "Workflow(Chain(jobs.produce(1).with_meta(airflow={'qeueu': 'gpu'})))",
        ["job 1 (tests.jobs.scenario.produce)", "unknown key 'qeueu'"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_DAG_FILES))
def test_dag_file_with_an_invalid_workflow_is_an_import_error_naming_job_and_input(tmp_path, case):
    workflow_code, names = BAD_DAG_FILES[case]
    dag_file = tmp_path / "hymir_bad.py"
    dag_file.write_text(
        textwrap.dedent(
            f'''\
            """A drop-in Airflow DAG file whose workflow is invalid."""
            from hymir import Chain, Workflow
            from hymir_airflow import workflow_to_dag
            from tests.jobs import scenario as jobs

            dag = workflow_to_dag({workflow_code}, dag_id="hymir_bad")
            '''
        )
    )

    bag = dag_bag(str(tmp_path))

    assert bag.dag_ids == []
    assert len(bag.import_errors) == 1
    ((path, error),) = bag.import_errors.items()
    assert path.endswith("hymir_bad.py")
    assert "hymir.errors.InvalidWorkflow" in error
    for name in names:
        assert name in error


def test_the_repository_dags_folder_loads_every_example_dag():
    from hymir.examples.tenants import TENANTS

    bag = dag_bag(str(REPOSITORY / "dags"))

    assert bag.import_errors == {}
    tenants = [f"hymir_tenant_{tenant}" for tenant in TENANTS]
    examples = ["hymir_cleanup", "hymir_fanout", "hymir_flaky", "hymir_unit", "hymir_waiting", "hymir_words"]
    assert sorted(bag.dag_ids) == sorted([*examples, *tenants])
    for dag in bag.dags.values():
        assert "hymir" in dag.tags
        plain = [task for task in job_tasks(dag) if not task.is_mapped]
        assert plain and all(isinstance(task, HymirJobOperator) for task in plain)
    mapped = bag.dags["hymir_fanout"].get_task("measure")
    assert mapped.is_mapped and mapped.operator_class is HymirItemOperator
    assert [task.task_id for task in job_tasks(bag.dags["hymir_words"])] == [
        "uppercase",
        "uppercase_2",
        "uppercase_3",
        "count",
    ]
    assert [t.task_id for t in job_tasks(bag.dags["hymir_cleanup"]) if t.is_teardown] == ["report"]
    assert sorted(task.task_id for task in job_tasks(bag.dags["hymir_unit"])) == ["report", "unit_1"]
    # The trigger form shows the workflow params with the DAG file's Params.
    assert bag.dags["hymir_flaky"].params["succeed_on_try"] == 3
    assert bag.dags["hymir_waiting"].params["path"] == "/tmp/hymir-ready.txt"


# --- 4. serialization, as the dag-processor stores it and the scheduler reads it -------------


def test_serialized_dag_round_trips_and_keeps_each_job_identity():
    workflow = Workflow(
        Chain(
            Group(jobs.shout("a"), jobs.shout("b").with_meta(airflow={"queue": "gpu", "retries": 5})),
            jobs.count_words(),
        )
    )
    workflow.on(Workflow.Callbacks.ON_FINISHED, jobs.tally("done"))
    dag = workflow_to_dag(workflow, dag_id="serialized")

    data = json.loads(json.dumps(dag_serializer().serialize_dag(dag)))
    restored = dag_serializer().deserialize_dag(data)

    assert restored.dag_id == "serialized"
    assert task_id_map(restored) == task_id_map(dag)
    assert {task.task_id: task.hymir_job_id for task in job_tasks(restored)} == {
        "shout": "1",
        "shout_2": "2",
        "count_words": "3",
        "tally": "4",
    }
    assert edges(restored) == edges(dag)
    assert restored.get_task("tally").is_teardown
    assert restored.get_task("shout_2").queue == "gpu" and restored.get_task("shout_2").retries == RETRY_LIMIT + 5
    assert restored.get_task("shout").retries == RETRY_LIMIT + 3
    assert {task.task_id: task.task_group.group_id for task in job_tasks(restored) if task.task_group} == {
        "shout": "group_1",
        "shout_2": "group_1",
        "count_words": None,
        "tally": None,
    }
    assert restored.get_task("shout").doc_md == dag.get_task("shout").doc_md
    assert "hymir" in restored.tags


# --- 5. Retry on Airflow ---------------------------------------------------------------------


def test_retry_waits_the_drawn_delay_between_airflow_tries(airflow_executor, mocker, capfd):
    drawn = mocker.patch("hymir.decision.random")
    drawn.uniform.return_value = 1.0
    workflow = Workflow(Chain(adapter_jobs.retry_once()))

    dag_id, run_id = run_on_airflow(airflow_executor, workflow)

    log = "".join(capfd.readouterr())
    drawn.uniform.assert_called_once_with(0.5, 1.5)
    state = airflow_executor.job_state(run_id, "1")
    assert state.status is JobStatus.SUCCESS
    assert state.retries == 1
    assert state.result == {"retries": 1}
    final = task_instance(dag_id, run_id, "retry_once")
    assert final.state == "success"
    assert final.try_number == 2
    earlier = history(dag_id, run_id, "retry_once")
    assert [row.try_number for row in earlier] == [1]
    (first,) = earlier
    # Airflow moves the task to up_for_retry and archives that try as "failed"
    # (TaskInstanceHistory.record_ti stores any unfinished state as failed).
    assert "new_state=up_for_retry" in log
    assert first.state == "failed"
    # Airflow logs the try's end as an error with a traceback; its last line says it was planned
    # (3.0 draws tracebacks in boxes that wrap long lines, hence the joined whitespace).
    assert (
        "RetryRequested: job 1 (tests.jobs.adapter.retry_once) returned Retry(wait_min=0.5, wait_max=1.5, "
        "max_retries=2); retry 1 of 2 in 1.0 s (a retry the job asked for, not a crash)" in " ".join(log.split())
    )
    if compat.HAS_RETRY_POLICY:
        # 3.3: the retry policy records the reason and waits the drawn delay before the next try.
        assert "job 1 (tests.jobs.adapter.retry_once) returned Retry(wait_min=0.5, wait_max=1.5, max_retries=2)" in (
            first.retry_reason
        )
        assert "retry 1 of 2 in 1.0 s" in first.retry_reason
        assert first.retry_delay_override == pytest.approx(1.0)
        gap = (final.start_date - first.end_date).total_seconds()
    else:
        # Before 3.3: the next try starts at once and, if the delay has not passed yet, waits the
        # rest of it as a reschedule before calling the job (the delay counts from the job's Retry).
        gap = (final.end_date - first.start_date).total_seconds()
    # At least the drawn delay, and nowhere near Airflow's retry_delay (300 s by default), even on a busy machine.
    assert 1.0 <= gap < 60
    assert "next try at" in log


def test_airflow_retries_do_not_cap_the_jobs_own_retries(airflow_executor):
    # The job allows 5 retries and the task's Airflow retries are 1: the job's cap wins, as on every engine.
    workflow = Workflow(Chain(adapter_jobs.always_retry_quickly().with_meta(airflow={"retries": 1})))

    dag_id, run_id = run_on_airflow(airflow_executor, workflow)

    assert task_instance(dag_id, run_id, "always_retry_quickly").try_number == 6
    state = airflow_executor.job_state(run_id, "1")
    assert state.status is JobStatus.FAILURE
    assert state.retries == 5
    # What a user reads afterwards says why: the job asked for another retry past its cap,
    # not a sensor timeout or a lost worker.
    assert "job 1 (tests.jobs.adapter.always_retry_quickly)" in state.exception
    assert "gave up after 5 retries (max_retries=5)" in state.exception
    assert "lost worker" not in state.exception


# --- 6 and 7. CheckLater, and what the task log says -----------------------------------------


def test_check_later_reschedules_without_a_new_try_and_keeps_its_context(airflow_executor, capfd):
    workflow = Workflow(Chain(jobs.count_checks(target=3)))

    dag_id, run_id = run_on_airflow(airflow_executor, workflow)

    log = "".join(capfd.readouterr())
    ti = task_instance(dag_id, run_id, "count_checks")
    assert ti.state == "success"
    assert ti.try_number == 1
    assert history(dag_id, run_id, "count_checks") == []
    rows = reschedules(ti)
    assert len(rows) == 2
    for row in rows:
        waited = (row.reschedule_date - row.end_date).total_seconds()
        assert waited == pytest.approx(1.0, abs=0.1)
    # Airflow waited for each reschedule date before poking again.
    assert rows[1].start_date >= rows[0].reschedule_date
    assert ti.end_date >= rows[1].reschedule_date
    state = airflow_executor.job_state(run_id, "1")
    assert state.status is JobStatus.SUCCESS
    assert state.retries == 0
    assert state.checks == 2
    assert state.context == {"counter": 2}
    assert state.result == {"counter": 3, "retries": 0}
    # The log says when the next check is, and it is when Airflow rescheduled the task.
    # Airflow 3.0 writes each task log line twice (two handlers, one with colours); each announcement counts once.
    announced = list(
        dict.fromkeys(
            re.findall(
                r"job 1 \(tests\.jobs\.scenario\.count_checks\): target=3 -> "
                r"CheckLater\(wait_for=1, context=\{'counter': (\d)\}\); "
                r"next check at ([0-9T:+-]+)",
                log,
            )
        )
    )
    assert [counter for counter, _ in announced] == ["1", "2"]
    for (_, when), row in zip(announced, rows, strict=True):
        assert abs((datetime.fromisoformat(when) - row.reschedule_date).total_seconds()) < 1.5


def test_min_check_interval_default_and_meta_override():
    workflow = Workflow(Chain(jobs.produce(1), jobs.tally("x").with_meta(airflow={"min_check_interval": 20})))

    dag = workflow_to_dag(workflow, dag_id="min_check")

    assert dag.get_task("produce").min_check_interval == 15
    assert dag.get_task("tally").min_check_interval == 20


def test_check_later_below_min_check_interval_waits_the_minimum_and_says_so(capfd):
    executor = AirflowExecutor(min_check_interval=1.5)
    workflow = Workflow(Chain(jobs.count_checks(target=2)))

    dag_id, run_id = run_on_airflow(executor, workflow)

    log = "".join(capfd.readouterr())
    ti = task_instance(dag_id, run_id, "count_checks")
    assert ti.state == "success" and ti.try_number == 1
    (row,) = reschedules(ti)
    assert (row.reschedule_date - row.end_date).total_seconds() == pytest.approx(1.5, abs=0.1)
    assert (
        "job 1 (tests.jobs.scenario.count_checks) asked to be checked again in 1 s; waiting min_check_interval=1.5 s"
        in log
    )
    assert executor.job_state(run_id, "1").context == {"counter": 1}


def test_a_check_reads_the_record_once_and_writes_it_once(airflow_executor, mocker):
    """What CheckLater costs beyond a native sensor's poke: one read and one write of the job's record per check.

    Three pokes: the first reads nothing (try 1, not rescheduled yet: the record cannot exist),
    the two later ones read it once each; each of the two checks writes it once (the count and
    the context it shows), and the success writes nothing.
    """
    read = mocker.spy(compat.RecordStore, "get")
    write = mocker.spy(compat.RecordStore, "set")

    run_on_airflow(airflow_executor, Workflow(Chain(jobs.count_checks(target=3))))

    assert (read.call_count, write.call_count) == (2, 2)


@pytest.mark.parametrize("deferrable", [False, True], ids=["rescheduled", "deferred"])
def test_a_check_does_not_send_the_unchanged_rendered_fields_again(deferrable, mocker):
    """The job's verbatim arguments are stored as its rendered fields by the try's first start, once."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.sdk.execution_time import task_runner

    sent = mocker.spy(task_runner, "_serialize_rendered_fields")

    dag_id, run_id = run_on_airflow(
        AirflowExecutor(deferrable=deferrable), Workflow(Chain(jobs.count_checks(target=3)))
    )

    starts = [
        bool(fields)
        for call, fields in zip(sent.call_args_list, sent.spy_return_list, strict=True)
        if call.args[0].task_id == "count_checks"
    ]
    assert starts == [True, False, False]
    fields = RenderedTaskInstanceFields.get_templated_fields(task_instance(dag_id, run_id, "count_checks"))
    assert fields == {"job_args": [], "job_kwargs": {"target": 3}}


def test_a_deferrable_check_later_defers_and_resumes_with_its_context():
    executor = AirflowExecutor(deferrable=True)
    workflow = Workflow(Chain(jobs.count_checks(target=3)))

    dag_id, run_id = run_on_airflow(executor, workflow)

    ti = task_instance(dag_id, run_id, "count_checks")
    assert ti.state == "success" and ti.try_number == 1
    # Checked twice in one try without a reschedule: each wait was a deferral.
    assert reschedules(ti) == [] and history(dag_id, run_id, "count_checks") == []
    state = executor.job_state(run_id, "1")
    assert (state.status, state.retries, state.checks) == (JobStatus.SUCCESS, 0, 2)
    assert state.context == {"counter": 2}
    assert state.result == {"counter": 3, "retries": 0}


def test_a_deferred_wait_resumes_with_the_record_it_deferred_with_without_reading_it(mocker):
    task = workflow_to_dag(Workflow(Chain(jobs.count_checks(target=3))), dag_id="resume", deferrable=True).get_task(
        "count_checks"
    )
    mocker.patch.object(HymirJobOperator, "execute", lambda self, context: self._record(context))
    read = mocker.spy(compat.RecordStore, "get")
    record = JobRecord(checks=2, context={"counter": 2}, waiting_since=1.5)

    assert task.resume_check({}, event="the trigger's event", record=record.to_stored()) == record
    assert read.call_count == 0


def test_a_deferred_job_fails_once_it_asks_for_a_check_after_its_check_timeout(tmp_path):
    executor = AirflowExecutor(deferrable=True, check_timeout=2)
    workflow = Workflow(Chain(jobs.wait_for_file(str(tmp_path / "never"))))

    dag_id, run_id = run_on_airflow(executor, workflow)

    ti = task_instance(dag_id, run_id, "wait_for_file")
    assert ti.state == "failed" and ti.try_number == 1  # a sensor timeout is not retried
    assert reschedules(ti) == []
    state = executor.job_state(run_id, "1")
    assert state.status is JobStatus.FAILURE and state.checks >= 2
    assert (
        "job 1 (tests.jobs.scenario.wait_for_file) still asked to be checked later after its check_timeout of 2 s"
        in (state.exception)
    )


def test_failure_is_logged_with_its_value_and_not_retried(airflow_executor, capfd, tmp_path):
    after = tmp_path / "after"
    workflow = Workflow(Chain(jobs.fail_with({"code": 7}), jobs.tally(str(after))))

    dag_id, run_id = run_on_airflow(airflow_executor, workflow)

    log = "".join(capfd.readouterr())
    assert "job 1 (tests.jobs.scenario.fail_with): {'code': 7} -> Failure(result={'code': 7})" in log
    if compat.AIRFLOW_MINOR >= (3, 1):  # 3.0 draws the exception as a wrapped panel in the task log
        assert "AirflowFailException: job 1 (tests.jobs.scenario.fail_with) returned Failure({'code': 7})" in log
    assert (
        "job 1 (tests.jobs.scenario.fail_with) returned Failure({'code': 7})"
        in airflow_executor.job_state(run_id, "1").exception
    )
    ti = task_instance(dag_id, run_id, "fail_with")
    assert ti.state == "failed" and ti.try_number == 1
    assert task_instance(dag_id, run_id, "tally").state == "upstream_failed"
    assert not after.exists()
    assert airflow_executor.workflow_state(run_id).status is WorkflowStatus.FAILURE
    assert airflow_executor.job_state(run_id, "1").result == {"code": 7}


# --- 8. unhandled exceptions -----------------------------------------------------------------


def test_unhandled_exception_is_not_retried_by_default_and_its_traceback_is_logged(airflow_executor, capfd):
    workflow = Workflow(Chain(jobs.explode("boom")))

    dag_id, run_id = run_on_airflow(airflow_executor, workflow)

    log = "".join(capfd.readouterr())
    ti = task_instance(dag_id, run_id, "explode")
    assert ti.max_tries == RETRY_LIMIT + 3  # the task has retries ...
    assert ti.try_number == 1  # ... and still ran once
    assert ti.state == "failed"
    assert history(dag_id, run_id, "explode") == []
    state = airflow_executor.job_state(run_id, "1")
    assert state.status is JobStatus.FAILURE and state.retries == 0
    # Airflow 3.0 draws a task's traceback in its log as a panel; the job's record keeps it as Python prints it.
    traceback = log if compat.AIRFLOW_MINOR >= (3, 1) else state.exception
    assert "Traceback (most recent call last)" in traceback
    assert 'in explode\n    raise ValueError(message)\nValueError: boom' in traceback
    assert "it is not retried unless its meta sets retry_on_exception" in log


def test_retry_on_exception_meta_gives_airflow_retries(tmp_path):
    executor = AirflowExecutor(default_args={"retry_delay": timedelta(seconds=0.2)})
    calls = tmp_path / "calls"
    workflow = Workflow(
        Chain(adapter_jobs.raise_on_first_try(str(calls)).with_meta(airflow={"retry_on_exception": True}))
    )

    dag_id, run_id = run_on_airflow(executor, workflow)

    ti = task_instance(dag_id, run_id, "raise_on_first_try")
    assert ti.state == "success"
    assert ti.try_number == 2
    assert [(row.try_number, row.state) for row in history(dag_id, run_id, "raise_on_first_try")] == [(1, "failed")]
    state = executor.job_state(run_id, "1")
    assert state.status is JobStatus.SUCCESS
    assert state.retries == 0  # an Airflow retry of an exception, not one the job asked for
    assert state.result == {"calls": 2}
    assert state.exception is None


def test_a_waiting_job_failed_by_the_scheduler_resumes_with_its_context_after_a_short_delay(airflow_executor):
    """The effect of apache/airflow#71172: the scheduler puts a waiting (rescheduled) task up for retry.

    While the job waits, a thread does to its task what the scheduler does in the race. The job's
    next try resumes with its stored context and checks; it asked for no retry, so
    job_state.retries stays 0, while Airflow's try number grows. Such retries wait the task's
    retry_delay: 10 s by default for Hymir tasks (Airflow's own default is 300 s); 1 s here.
    """
    from airflow.utils.state import TaskInstanceState

    from hymir_airflow.backends.database import ensure_database
    from hymir_airflow.executor import default_dag_id

    ensure_database()
    workflow = Workflow(Chain(adapter_jobs.wait_once_keeping_a_note().with_meta(airflow={"retry_delay": 1})))
    assert workflow_to_dag(Workflow(Chain(jobs.produce(1))), dag_id="race_default").get_task("produce").retry_delay == (
        compat.DEFAULT_RETRY_DELAY
    )
    dag_id = default_dag_id(workflow)

    def fail_the_waiting_task(failed: list[datetime]) -> None:
        """What the scheduler does in the race, done once the task is rescheduled (dag.test needs the main thread).

        One UPDATE guarded by the state, so that a task dag.test() has already picked up again is
        left alone (an ORM read-then-write could overwrite its new state).
        """
        deadline = time.monotonic() + 60
        while not failed and time.monotonic() < deadline:
            now = datetime.now(timezone.utc)
            try:
                with create_session() as session:
                    changed = session.execute(
                        update(TaskInstance)
                        .where(TaskInstance.dag_id == dag_id, TaskInstance.state == TaskInstanceState.UP_FOR_RESCHEDULE)
                        .values(state=TaskInstanceState.UP_FOR_RETRY, end_date=now)
                        .execution_options(synchronize_session=False)
                    ).rowcount
            except OperationalError:  # SQLite is busy with the run: try again
                changed = 0
            if changed:
                failed.append(now)
            time.sleep(0.05)

    # dag.test() keeps SQLite read-locked between its loops, so the thread's UPDATE may land only
    # as the check falls due, after dag.test() loaded the task to run it again: then the check
    # wins and there was no race to observe (try 1). A run where that happened is run again.
    for _ in range(3):
        failed: list[datetime] = []
        scheduler = threading.Thread(target=fail_the_waiting_task, args=(failed,), daemon=True)
        scheduler.start()
        run_id = airflow_executor.run(workflow)
        scheduler.join(timeout=5)
        assert failed, "the job never waited"
        ti = task_instance(dag_id, run_id, "wait_once_keeping_a_note")
        if ti.try_number > 1:
            break

    state = airflow_executor.job_state(run_id, "1")
    assert state.status is JobStatus.SUCCESS, state.exception
    assert state.result == {"context": {"note": "kept across the race"}, "checks": 1, "retries": 0}
    assert ti.try_number == 2
    assert 1.0 <= (ti.start_date - failed[0]).total_seconds() < 10
