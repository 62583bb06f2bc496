"""One semantics, two engines: each numbered rule of the parity issue, on LocalExecutor and on Airflow.

Every test is parametrized over the ``executor`` fixture (LocalExecutor on a VirtualClock, and
the session's in-process AirflowExecutor) unless the rule concerns one engine only. The rules
are those of /work/shared/DESIGN.md ("One rule per row, the same on both engines").
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
import time
import warnings

import pytest

from hymir import Chain, Group, JobStatus, Workflow, WorkflowStatus
from tests.conftest import ENGINES
from tests.jobs import parity as pj
from tests.jobs import scenario as sj

JOB = "tests.jobs.parity"


@contextlib.contextmanager
def airflow_watchdog(executor, workflow: Workflow, after: float = 20.0, dag_id: str | None = None):
    """On Airflow, fail the run's task instances still waiting for a retry or reschedule ``after`` seconds in.

    Only tasks of the workflow's DAG are looked at: other tests leave tasks of their own in
    these states in the session's database.

    An engine that accepts a wait of centuries (or falls back to Airflow's 5-minute retry_delay)
    would leave dag.test() polling for that long; this ends such a run so the test fails with a
    readable assertion instead of hanging. It yields a list that says whether it had to step in.
    """
    fired: list[str] = []
    if not is_airflow(executor):
        yield fired
        return
    from sqlalchemy import select, update

    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    from hymir_airflow.executor import default_dag_id

    dag_id = dag_id or default_dag_id(workflow)
    stop = threading.Event()

    def watch() -> None:
        if stop.wait(after):
            return
        while not stop.is_set():
            try:
                waiting = TaskInstance.state.in_(["up_for_retry", "up_for_reschedule"])
                waiting &= TaskInstance.dag_id == dag_id
                with create_session() as session:
                    stuck = session.execute(select(TaskInstance.task_id, TaskInstance.state).where(waiting)).all()
                    if stuck:
                        session.execute(update(TaskInstance).where(waiting).values(state="failed"))
                if stuck:
                    listed = ", ".join(f"{task_id} ({state})" for task_id, state in stuck)
                    fired.append(f"tasks still waiting after {after} s were failed by the test: {listed}")
            except Exception:  # a locked SQLite database: try again a second later
                pass
            stop.wait(1)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield fired
    finally:
        stop.set()
        thread.join(5)


def run(executor, workflow: Workflow, *, stuck_after: float = 60.0, **kwargs) -> str:
    """Run ``workflow`` to the end and return its id.

    A BaseException that escapes the engine fails the test (not the whole session). On Airflow a
    run whose tasks still wait for a retry or a reschedule after ``stuck_after`` seconds is ended
    by failing those tasks (no test here needs that long), and the test fails saying so.
    """
    with airflow_watchdog(executor, workflow, after=stuck_after, dag_id=kwargs.get("dag_id")) as watchdog:
        workflow_id = run_unguarded(executor, workflow, **kwargs)
    if watchdog:
        pytest.fail(f"the run was stuck waiting on Airflow: {'; '.join(watchdog)}")
    return workflow_id


def run_unguarded(executor, workflow: Workflow, **kwargs) -> str:
    """Run ``workflow`` to the end; a BaseException that escapes the engine fails the test, not the session."""
    try:
        workflow_id = executor.run(workflow, **kwargs)
        executor.wait(workflow_id, sleep=0.1, timeout=120)
    except (KeyboardInterrupt, SystemExit) as escaped:
        pytest.fail(f"the engine let {escaped!r} escape from the run instead of recording it as the job's failure")
    return workflow_id


def calls(path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def is_airflow(executor) -> bool:
    return type(executor).__name__ == "AirflowExecutor"


def same(actual, expected) -> bool:
    """Equal, and of the same types all the way down (repr tells 1 from 1.0 and 0.0 from -0.0)."""
    return actual == expected and type(actual) is type(expected) and repr(actual) == repr(expected)


# --- 1. arguments reach the function verbatim ------------------------------------------------

TEMPLATE_LOOKALIKES = {"a": "{{ 7 * 7 }}", "b": "{{ ds }}", "c": "50% {% raw %}", "q": "{{ 1 + 1 }}"}


def test_arguments_reach_the_function_verbatim(executor):
    """Rule 1: strings that look like Jinja templates reach the function unrendered, on both engines."""
    a, b, c, q = (TEMPLATE_LOOKALIKES[k] for k in "abcq")
    workflow_id = run(executor, Workflow(Chain(pj.echo(a, b, c, q=q))))

    state = executor.job_state(workflow_id, "1")
    assert state.status is JobStatus.SUCCESS, state.exception
    assert state.result == TEMPLATE_LOOKALIKES
    assert executor.outputs(workflow_id) == {"value": [TEMPLATE_LOOKALIKES]}


def test_render_templates_is_an_airflow_opt_in(executor):
    """Rule 1: meta={"airflow": {"render_templates": True}} renders a job's arguments on Airflow.

    The LocalExecutor ignores ``meta["airflow"]``, so there the arguments stay verbatim.
    """
    job = pj.echo("{{ 7 * 7 }}", "plain", "text", q="{{ 1 + 1 }}").with_meta(airflow={"render_templates": True})
    workflow_id = run(executor, Workflow(Chain(job)))

    state = executor.job_state(workflow_id, "1")
    assert state.status is JobStatus.SUCCESS, state.exception
    if is_airflow(executor):
        assert state.result["a"] == "49"
        assert state.result["b"] == "plain"
    else:
        assert state.result == {"a": "{{ 7 * 7 }}", "b": "plain", "c": "text", "q": "{{ 1 + 1 }}"}


# --- 2. values travel unchanged --------------------------------------------------------------


@pytest.fixture(scope="module", params=ENGINES)
def values_run(request):
    """One run per engine: for every value of ``VALUES`` a producer and a consumer that reports what it got."""
    if request.param == "local":
        from hymir.clock import VirtualClock
        from hymir.executors.local import LocalExecutor

        executor = LocalExecutor(clock=VirtualClock())
    else:
        executor = request.getfixturevalue("airflow_executor")
    names = list(pj.VALUES)
    branches = [
        Chain(
            pj.make(name).with_output(f"v_{name}"),
            pj.receive().with_inputs((f"v_{name}", "value")).with_output(f"r_{name}"),
        )
        for name in names
    ]
    workflow_id = run(executor, Workflow(Group(*branches)))
    ids = {name: (str(2 * i + 1), str(2 * i + 2)) for i, name in enumerate(names)}
    return executor, workflow_id, ids


@pytest.mark.parametrize("name", list(pj.VALUES))
def test_values_travel_unchanged(values_run, name):
    """Rule 2: what a job returns reaches job_states(), outputs() and its consumer with the same value and type."""
    executor, workflow_id, ids = values_run
    value = pj.VALUES[name]
    producer, consumer = ids[name]
    states = executor.job_states(workflow_id, [producer, consumer])

    assert states[producer].status is JobStatus.SUCCESS, states[producer].exception
    result = states[producer].result
    assert same(result, value), f"job_states() result: {result!r}, returned: {value!r}"
    outputs = executor.outputs(workflow_id).get(f"v_{name}")
    assert outputs is not None and len(outputs) == 1 and same(outputs[0], value), f"outputs(): {outputs!r}"
    assert states[consumer].status is JobStatus.SUCCESS, states[consumer].exception
    received = states[consumer].result
    assert received["type"] == type(value).__name__, f"the consumer received {received!r}"
    assert same(received["got"], value), f"the consumer received {received['got']!r}, expected {value!r}"
    if name == "neg_zero":
        assert math.copysign(1.0, result) == -1.0 and math.copysign(1.0, received["got"]) == -1.0


def test_lone_surrogate_is_refused_at_the_producer(executor):
    """Rule 2: a string no store can carry fails its producer, naming job, output and why; nothing is stored."""
    workflow_id = run(executor, Workflow(Chain(pj.make("lone_surrogate"), pj.receive())))

    producer, consumer = executor.job_state(workflow_id, "1"), executor.job_state(workflow_id, "2")
    assert producer.status is JobStatus.FAILURE
    assert producer.exception is not None
    assert f"job 1 ({JOB}.make)" in producer.exception
    assert "'value'" in producer.exception
    assert re.search(r"surrogate|utf-?8|unicode|encod", producer.exception, re.IGNORECASE), producer.exception
    assert "value" not in executor.outputs(workflow_id)
    assert consumer.status is JobStatus.PENDING
    assert executor.workflow_state(workflow_id).status is WorkflowStatus.FAILURE


# --- 3. isolation ----------------------------------------------------------------------------


def test_a_consumer_changing_its_input_changes_nothing_else(executor):
    """Rule 3: a consumer appending to its list input leaves the producer's result, outputs() and later consumers
    alone."""
    workflow_id = run(executor, Workflow(Chain(pj.make_items(), pj.append_to_input(), pj.read_input())))

    states = executor.job_states(workflow_id)
    assert [states[j].status for j in "123"] == [JobStatus.SUCCESS] * 3
    assert states["2"].result == [1, 2, 99]
    assert states["1"].result == [1, 2]
    assert states["3"].result == [1, 2]
    assert executor.outputs(workflow_id)["items"] == [[1, 2]]


def test_a_job_changing_its_argument_changes_nothing_else(executor):
    """Rule 3: a job appending to a list argument leaves the Workflow unchanged; a second run gives the same result."""
    workflow = Workflow(Chain(pj.append_to_argument(["given"])))
    before = workflow.serialize()

    first = run(executor, workflow)
    assert workflow.serialize() == before
    second = run(executor, workflow)
    assert workflow.serialize() == before
    assert executor.job_state(first, "1").result == ["given", "added"]
    assert executor.job_state(second, "1").result == ["given", "added"]


def test_a_job_changing_a_param_changes_nothing_else(executor):
    """Rule 3: a job appending to a list param leaves the Workflow (and its params) unchanged across runs."""
    workflow = Workflow(Chain(pj.append_to_param()), params={"items": ["given"]})
    before = workflow.serialize()

    first = run(executor, workflow)
    assert workflow.serialize() == before
    assert workflow.params == {"items": ["given"]}
    second = run(executor, workflow)
    assert workflow.serialize() == before
    assert executor.job_state(first, "1").result == ["given", "added"]
    assert executor.job_state(second, "1").result == ["given", "added"]


# --- 4. huge waits ---------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [1e10, 31_536_001], ids=["1e10", "limit+1"])
@pytest.mark.parametrize("kind", ["check_later", "retry"])
def test_huge_waits_are_refused(executor, tmp_path, kind, seconds):
    """Rule 4: a CheckLater or Retry wait above 365 days fails the job naming it and the value; the rest goes on."""
    path = tmp_path / "calls"
    workflow = Workflow(Group(pj.huge_wait(str(path), kind, seconds), pj.emit_name("independent")))
    workflow.on(Workflow.Callbacks.ON_FINISHED, pj.report_status())
    with airflow_watchdog(executor, workflow, after=20.0) as watchdog:
        workflow_id = run_unguarded(executor, workflow)

    state = executor.job_state(workflow_id, "1")
    accepted = f"the engine accepted the wait: {watchdog or 'the job was called again'}"
    assert state.status is JobStatus.FAILURE, accepted
    assert calls(path) == 1, accepted
    assert state.exception is not None and f"job 1 ({JOB}.huge_wait)" in state.exception, state.exception
    shown = {1e10: ("10000000000", "1e+10", "1e10"), 31_536_001: ("31536001",)}[seconds]
    assert any(text in state.exception for text in shown), state.exception
    assert executor.job_state(workflow_id, "2").status is JobStatus.SUCCESS
    assert executor.workflow_state(workflow_id).status is WorkflowStatus.FAILURE
    callback = executor.job_state(workflow_id, "3")
    assert callback.status is JobStatus.SUCCESS, callback.exception
    assert callback.result == "failure"


# --- 5. order --------------------------------------------------------------------------------


def test_list_input_and_outputs_follow_definition_order(executor):
    """Rule 5: producers in the order they appear in the workflow, for a list[...] input and for outputs()."""
    workflow = Workflow(
        Chain(Group(Chain(pj.emit_name("a1"), pj.emit_name("a2")), pj.emit_name("b1")), pj.collect_names())
    )
    workflow_id = run(executor, workflow)

    assert executor.job_state(workflow_id, "4").result == ["a1", "a2", "b1"]
    assert executor.outputs(workflow_id)["name"] == ["a1", "a2", "b1"]


def test_from_graph_order_is_the_jobs_mapping_order(executor):
    """Rule 5: in Workflow.from_graph the order is that of the jobs mapping, whatever the edges say."""
    workflow = Workflow.from_graph(
        {"a": pj.emit_name("A"), "b": pj.emit_name("B"), "c": pj.collect_names()},
        [("b", "a"), ("a", "c"), ("b", "c")],
    )
    workflow_id = run(executor, workflow)

    assert executor.job_state(workflow_id, "c").result == ["A", "B"]
    assert executor.outputs(workflow_id)["name"] == ["A", "B"]


# --- 6. BaseExceptions -----------------------------------------------------------------------


@pytest.mark.parametrize("kind, shown", [("SystemExit", "SystemExit: bye"), ("KeyboardInterrupt", "KeyboardInterrupt")])
def test_base_exceptions_are_recorded(executor, kind, shown):
    """Rule 6: SystemExit and KeyboardInterrupt fail the job with the traceback, no retry; ON_FINISHED still runs."""
    workflow = Workflow(Chain(pj.raise_base_exception(kind)))
    workflow.on(Workflow.Callbacks.ON_FINISHED, pj.report_status())
    workflow_id = run(executor, workflow)

    state = executor.job_state(workflow_id, "1")
    assert state.status is JobStatus.FAILURE
    assert state.exception is not None and "Traceback" in state.exception, state.exception
    assert shown in state.exception, state.exception
    assert state.retries == 0
    assert executor.workflow_state(workflow_id).status is WorkflowStatus.FAILURE
    callback = executor.job_state(workflow_id, "2")
    assert callback.status is JobStatus.SUCCESS, callback.exception


# --- 7. a function name that is not ASCII ----------------------------------------------------


def test_non_ascii_function_name_runs(executor):
    """Rule 7: a job function named größe runs on both engines."""
    workflow_id = run(executor, Workflow(Chain(pj.größe("wert"))))

    state = executor.job_state(workflow_id, "1")
    assert state.status is JobStatus.SUCCESS, state.exception
    assert executor.outputs(workflow_id) == {"value": ["wert"]}


@pytest.mark.airflow
def test_non_ascii_function_name_gets_an_ascii_task_id_and_keeps_its_display_name():
    """Rule 7: on Airflow the task_id is ASCII-only and valid, and task_display_name still shows größe."""
    pytest.importorskip("airflow")
    from hymir_airflow import workflow_to_dag

    dag = workflow_to_dag(Workflow(Chain(pj.größe("wert"), pj.emit_name("x"))), dag_id="x")

    for task_id in dag.task_ids:
        assert task_id.isascii() and re.fullmatch(r"[A-Za-z0-9_.-]{1,250}", task_id), task_id
    task = next(t for t in dag.tasks if t.hymir_job_id == "1")
    assert "größe" in task.task_display_name


# --- 8. list annotations ---------------------------------------------------------------------


@pytest.mark.parametrize("consumer", [pj.optional_list, pj.union_list], ids=["Optional[list[int]]", "list[int] | None"])
def test_optional_list_annotations_count_as_lists(executor, consumer):
    """Rule 8: a parameter annotated Optional[list[int]] or list[int] | None takes every producer's value."""
    workflow_id = run(executor, Workflow(Chain(Group(pj.number(1), pj.number(2)), consumer())))

    state = executor.job_state(workflow_id, "3")
    assert state.status is JobStatus.SUCCESS, state.exception
    assert state.result == [1, 2]


def test_bare_list_annotation_with_one_producer_warns_and_gets_a_list(executor):
    """Rule 8: a bare ``list`` parameter fed by one producer warns when the Workflow is built, and gets [v]."""
    with pytest.warns(UserWarning, match="annotated as a bare list") as caught:
        workflow = Workflow(Chain(pj.number(5), pj.bare_list()))
    assert any("bare_list" in str(warning.message) for warning in caught), [str(w.message) for w in caught]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        workflow_id = run(executor, workflow)
    state = executor.job_state(workflow_id, "2")
    assert state.status is JobStatus.SUCCESS, state.exception
    assert state.result == [5]


# --- 9. retry caps ---------------------------------------------------------------------------


def test_retry_max_retries_is_exact(executor, tmp_path):
    """Rule 9: Retry(max_retries=5) gets exactly 5 retries (6 calls) on both engines, without any meta."""
    path = tmp_path / "calls"
    workflow_id = run(executor, Workflow(Chain(pj.retry_always(str(path), max_retries=5))))

    state = executor.job_state(workflow_id, "1")
    assert calls(path) == 6
    assert state.status is JobStatus.FAILURE
    assert state.retries == 5
    assert "gave up after 5 retries (max_retries=5)" in state.exception, state.exception


@pytest.mark.parametrize(
    "where, expected",
    [("job meta", 1), ("workflow default", 2), ("built-in default", 3)],
)
def test_retry_without_max_retries_uses_the_configured_cap(executor, tmp_path, where, expected):
    """Rule 9: Retry() without max_retries uses the job's meta max_retries, else the workflow's, else 3."""
    path = tmp_path / "calls"
    job = pj.retry_always(str(path))
    if where == "job meta":
        workflow = Workflow(Chain(job.with_meta(max_retries=1)))
    elif where == "workflow default":
        workflow = Workflow(Chain(job), max_retries=2)
    else:
        workflow = Workflow(Chain(job))
    workflow_id = run(executor, workflow)

    state = executor.job_state(workflow_id, "1")
    assert calls(path) == expected + 1
    assert state.status is JobStatus.FAILURE
    assert state.retries == expected
    assert f"gave up after {expected} retries (max_retries={expected})" in state.exception, state.exception


# --- 10. failure in a branch -----------------------------------------------------------------


def test_failure_in_a_branch_lets_independent_branches_finish(executor, tmp_path):
    """Rule 10: by default a failure stops what depends on it; independent branches run to the end."""
    after, successor = tmp_path / "after_fail", tmp_path / "successor"
    workflow = Workflow(
        Group(
            Chain(sj.fail_with("broken"), sj.tally(str(after))),
            Chain(pj.check_later_twice(), sj.tally(str(successor))),
        )
    )
    workflow_id = run(executor, workflow)

    states = executor.job_states(workflow_id)
    assert states["1"].status is JobStatus.FAILURE
    assert states["2"].status is JobStatus.PENDING and not after.exists()
    assert states["3"].status is JobStatus.SUCCESS, states["3"].exception
    assert states["3"].checks == 2
    assert states["4"].status is JobStatus.SUCCESS and calls(successor) == 1
    assert executor.workflow_state(workflow_id).status is WorkflowStatus.FAILURE


def test_on_finished_waits_for_a_branch_still_checking_after_a_failure(executor, tmp_path):
    """Rule 10: the job after both branches is decided by the failure, yet ON_FINISHED waits for the other branch.

    On Airflow the job after a Group is upstream_failed as soon as one member fails; a teardown
    after the last jobs alone would run then and miss the value the other member still checks for.
    """
    after = tmp_path / "after"
    workflow = Workflow(Chain(Group(sj.fail_with("broken"), pj.check_later_twice()), sj.tally(str(after))))
    workflow.on(Workflow.Callbacks.ON_FINISHED, pj.receive())
    workflow_id = run(executor, workflow)

    states = executor.job_states(workflow_id)
    assert states["1"].status is JobStatus.FAILURE
    assert (states["2"].status, states["2"].checks) == (JobStatus.SUCCESS, 2), states["2"]
    assert states["3"].status is JobStatus.PENDING and not after.exists()
    assert states["4"].status is JobStatus.SUCCESS, states["4"].exception
    assert states["4"].result == {"got": "checked 2 times", "type": "str"}
    assert executor.workflow_state(workflow_id).status is WorkflowStatus.FAILURE


def test_fail_fast_starts_nothing_after_a_failure(executor, tmp_path, request):
    """Rule 10: with fail_fast=True nothing starts after a failure: waiting jobs are not run again, all end PENDING.

    The failing job runs after a first job, so every sibling has made its first call (and waits,
    on a check or a retry) before the failure; the failing job creates a flag file first, so a
    sibling called after the failure would record 'after' and succeed.
    """
    if executor.__class__.__name__ == "AirflowExecutor":
        from hymir_airflow import compat

        request.applymarker(
            pytest.mark.xfail(
                compat.AIRFLOW_MINOR == (3, 0),
                strict=False,
                reason="Airflow 3.0's dag.test() still runs a task that fail_fast skipped once it had chosen it to run "
                "in the same pass (the scheduler of a deployment does not)",
            )
        )
    flag = tmp_path / "flag"
    paths = {name: tmp_path / name for name in ("after_fail", "check", "check_next", "retry", "retry_next")}
    workflow = Workflow(
        Group(
            Chain(
                pj.emit_name("first"),
                pj.fail_and_flag(str(flag), after=[str(paths["check"]), str(paths["retry"])]),
                sj.tally(str(paths["after_fail"])),
            ),
            Chain(pj.wait_for_flag(str(paths["check"]), str(flag), "check"), sj.tally(str(paths["check_next"]))),
            Chain(pj.wait_for_flag(str(paths["retry"]), str(flag), "retry"), sj.tally(str(paths["retry_next"]))),
        ),
        fail_fast=True,
    )
    workflow.on(Workflow.Callbacks.ON_FINISHED, pj.report_status())
    workflow_id = run(executor, workflow)

    states = executor.job_states(workflow_id)
    assert states["1"].status is JobStatus.SUCCESS
    assert states["2"].status is JobStatus.FAILURE
    for waiting in ("check", "retry"):
        lines = paths[waiting].read_text().splitlines()
        assert lines and "after" not in lines, f"{waiting} sibling calls: {lines}"
    for job_id in ("3", "4", "5", "6", "7"):
        assert states[job_id].status is JobStatus.PENDING, (job_id, states[job_id])
    assert not any(paths[name].exists() for name in ("after_fail", "check_next", "retry_next"))
    assert executor.workflow_state(workflow_id).status is WorkflowStatus.FAILURE
    assert states["8"].status is JobStatus.SUCCESS, states["8"].exception


# --- 11. a missing output fails the consumer -------------------------------------------------


@pytest.mark.airflow
def test_missing_output_fails_the_consumer_on_airflow(airflow_executor, tmp_path):
    """Rule 11: when the producer's XCom is gone the consumer fails naming itself, the input and the producer."""
    path = tmp_path / "consumer_calls"
    workflow = Workflow(Chain(pj.make("unicode"), pj.delete_xcom_of("1"), pj.record_and_receive(str(path))))
    workflow_id = run(airflow_executor, workflow)

    deleter = airflow_executor.job_state(workflow_id, "2")
    assert deleter.status is JobStatus.SUCCESS, deleter.exception
    consumer = airflow_executor.job_state(workflow_id, "3")
    assert consumer.status is JobStatus.FAILURE, f"the consumer received {consumer.result!r}"
    assert not path.exists(), "the consumer's function was called"
    assert f"job 3 ({JOB}.record_and_receive)" in consumer.exception, consumer.exception
    assert "'value'" in consumer.exception, consumer.exception
    assert "job 1" in consumer.exception, consumer.exception
    assert airflow_executor.workflow_state(workflow_id).status is WorkflowStatus.FAILURE


def test_a_legitimate_none_is_not_missing(executor, tmp_path):
    """Rule 11: a producer that succeeded with None gives its consumer None, on both engines."""
    path = tmp_path / "consumer_calls"
    workflow_id = run(executor, Workflow(Chain(pj.make("none"), pj.record_and_receive(str(path)))))

    consumer = executor.job_state(workflow_id, "2")
    assert consumer.status is JobStatus.SUCCESS, consumer.exception
    assert consumer.result == {"got": None, "type": "NoneType"}
    assert calls(path) == 1
    assert executor.outputs(workflow_id)["value"] == [None]


# --- 12. LocalExecutor as a context manager --------------------------------------------------


def _pool_threads(executor_threads_before: set) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("hymir-job") and t not in executor_threads_before]


@pytest.mark.parametrize("how", ["with", "close"])
def test_local_executor_shuts_its_pool(how):
    """Rule 12: ``with LocalExecutor() as executor:`` (or executor.close()) shuts the executor's thread pool."""
    from hymir.clock import VirtualClock
    from hymir.executors.local import LocalExecutor

    before = set(threading.enumerate())
    workflow = Workflow(Group(pj.emit_name("a"), pj.emit_name("b")))
    if how == "with":
        with LocalExecutor(clock=VirtualClock()) as executor:
            assert isinstance(executor, LocalExecutor)
            workflow_id = run(executor, workflow)
            assert executor.outputs(workflow_id) == {"name": ["a", "b"]}
            started = _pool_threads(before)
            assert started
    else:
        executor = LocalExecutor(clock=VirtualClock())
        workflow_id = run(executor, workflow)
        started = _pool_threads(before)
        assert started
        executor.close()

    deadline = time.monotonic() + 5
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not [t.name for t in started if t.is_alive()]
