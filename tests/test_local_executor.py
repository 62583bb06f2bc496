"""The LocalExecutor on its own, on virtual time: no test sleeps through a Retry or CheckLater wait."""

from __future__ import annotations

import itertools
import json
import random
import uuid

import pytest

from hymir import (
    Chain,
    Group,
    InvalidWorkflow,
    JobState,
    JobStatus,
    Workflow,
    WorkflowDoesNotExist,
    WorkflowNotFinished,
    WorkflowState,
    WorkflowStatus,
)
from hymir.clock import VirtualClock
from hymir.examples.flaky import flaky_workflow
from hymir.examples.words import words_workflow
from hymir.executors import local as local_module
from hymir.executors.local import LocalExecutor
from tests.jobs import core as jobs_core
from tests.jobs.core import (
    always_retry,
    block_until,
    count,
    count_in_context,
    create_file_after,
    double,
    explode,
    fail_with,
    introspect,
    join_items,
    noop,
    produce,
    produce_after,
    record,
    report,
    return_garbage,
    return_unstorable,
    returns_none,
    uppercase,
    wait_for_file,
    wait_until,
)

ON_FINISHED = Workflow.Callbacks.ON_FINISHED
SEED = 1234
#: Generous real-time bound for a run; on virtual time every run here takes milliseconds.
TIMEOUT = 5


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(SEED)


@pytest.fixture
def local_executor(clock, rng) -> LocalExecutor:
    return LocalExecutor(clock=clock, rng=rng)


@pytest.fixture
def token(clock) -> str:
    """A name for this test's shared state in tests.jobs.core, with the virtual clock registered under it."""
    name = uuid.uuid4().hex
    jobs_core.CLOCKS[name] = clock
    yield name
    jobs_core.CLOCKS.pop(name, None)
    jobs_core.CALLS.pop(name, None)


@pytest.fixture
def event_name() -> str:
    """A fresh event name; the event is set afterwards so no job thread is left waiting."""
    name = uuid.uuid4().hex
    yield name
    jobs_core.EVENTS[name].set()


def run_to_end(local_executor: LocalExecutor, workflow: Workflow) -> tuple[str, WorkflowState]:
    workflow_id = local_executor.run(workflow)
    return workflow_id, local_executor.wait(workflow_id, timeout=TIMEOUT)


# --- Success / None -----------------------------------------------------------------------------


def test_success_and_none_succeed(local_executor, token):
    workflow_id, state = run_to_end(local_executor, Workflow(Chain(record(token, "a"), noop(), returns_none())))
    assert state.status is WorkflowStatus.SUCCESS
    assert state.is_finished
    states = local_executor.job_states(workflow_id)
    assert {job_id: s.status for job_id, s in states.items()} == {
        "1": JobStatus.SUCCESS,
        "2": JobStatus.SUCCESS,
        "3": JobStatus.SUCCESS,
    }
    assert [s.result for s in states.values()] == ["a", None, None]
    assert all(s.exception is None and s.retries == 0 and s.checks == 0 for s in states.values())
    assert local_executor.outputs(workflow_id) == {"value": ["a"]}
    assert local_executor.progress(workflow_id) == (3, 3)
    assert jobs_core.CALLS[token] == ["a"]


def test_words_example(local_executor):
    workflow_id, state = run_to_end(local_executor, words_workflow())
    assert state.status is WorkflowStatus.SUCCESS
    assert local_executor.outputs(workflow_id) == {"words": ["HELLO", "HYMIR", "WORLD"], "count": [3]}


def test_runs_are_independent(local_executor, token):
    workflow = Workflow(record(token, "x"))
    first, second = local_executor.run(workflow), local_executor.run(workflow)
    assert first != second
    assert local_executor.wait(first, timeout=TIMEOUT).status is WorkflowStatus.SUCCESS
    assert local_executor.wait(second, timeout=TIMEOUT).status is WorkflowStatus.SUCCESS
    assert jobs_core.CALLS[token] == ["x", "x"]


# --- Failure --------------------------------------------------------------------------------------


def test_failure_stops_everything(local_executor, token):
    workflow = Workflow(Chain(fail_with(token, {"why": "bad input"}), record(token, "never")))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    first, second = local_executor.job_state(workflow_id, "1"), local_executor.job_state(workflow_id, "2")
    assert first.status is JobStatus.FAILURE
    assert first.result == {"why": "bad input"}
    assert "job 1" in first.exception and "fail_with" in first.exception and "bad input" in first.exception
    assert second.status is JobStatus.PENDING
    assert second.is_finished is False
    assert local_executor.progress(workflow_id) == (1, 2)
    assert jobs_core.CALLS[token] == ["fail_with"]
    assert local_executor.outputs(workflow_id) == {}


def test_failure_in_a_group_lets_siblings_finish_and_nothing_downstream_start(local_executor, token):
    workflow = Workflow(Chain(Group(fail_with(token, "x"), record(token, "sibling")), record(token, "after")))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    states = local_executor.job_states(workflow_id)
    assert [states[i].status for i in ("1", "2", "3")] == [JobStatus.FAILURE, JobStatus.SUCCESS, JobStatus.PENDING]
    assert "after" not in jobs_core.CALLS[token]
    assert local_executor.progress(workflow_id) == (2, 3)


def test_failure_lets_an_independent_check_later_sibling_go_on(local_executor, token, clock):
    workflow = Workflow(Group(fail_with(token, "x"), count_in_context(token, 3)))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    checker = local_executor.job_state(workflow_id, "2")
    assert checker.status is JobStatus.SUCCESS
    assert checker.checks == 3
    assert len(jobs_core.CALLS[token]) == 5  # fail_with once, the checker four times


def test_fail_fast_stops_a_waiting_check_later_sibling(local_executor, token, clock):
    workflow = Workflow(Group(fail_with(token, "x"), count_in_context(token, 3)), fail_fast=True)
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    assert len(jobs_core.CALLS[token]) == 2  # fail_with once, the checker once: nothing after the failure
    checker = local_executor.job_state(workflow_id, "2")
    if checker.status is JobStatus.PENDING:  # its first check had returned before the failure was settled
        assert checker.checks == 1
    else:  # its first check was still running: it ends failed, as Airflow fails running tasks
        assert checker.status is JobStatus.FAILURE
        assert checker.exception == "stopped: another job failed and the workflow is fail_fast"


# --- Retry ----------------------------------------------------------------------------------------


def test_retry_until_the_cap_then_fail(local_executor, token, clock):
    workflow_id, state = run_to_end(local_executor, Workflow(always_retry(token, 3, 10, 20)))
    assert state.status is WorkflowStatus.FAILURE
    job_state = local_executor.job_state(workflow_id, "1")
    assert job_state.status is JobStatus.FAILURE
    assert job_state.retries == 3
    assert job_state.checks == 0
    assert "job 1" in job_state.exception and "always_retry" in job_state.exception
    assert "3 retries" in job_state.exception
    calls = jobs_core.CALLS[token]
    assert len(calls) == 4
    assert [retries for _, retries in calls] == [0, 1, 2, 3]  # job_state.retries as the job saw it


def test_retry_delays_are_drawn_within_bounds_from_the_rng(local_executor, token, clock, mocker, rng):
    uniform = mocker.spy(rng, "uniform")
    run_to_end(local_executor, Workflow(always_retry(token, 3, 10, 20)))
    assert uniform.call_count == 3
    assert all(call.args == (10, 20) for call in uniform.call_args_list)
    times = [when for when, _ in jobs_core.CALLS[token]]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(10 <= gap <= 20 for gap in gaps), gaps
    expected = random.Random(SEED)
    assert gaps == pytest.approx([expected.uniform(10, 20) for _ in range(3)])
    assert clock.now() == pytest.approx(times[-1])


def test_retry_delays_follow_the_rng_exactly(local_executor, token, clock, mocker, rng):
    mocker.patch.object(rng, "uniform", side_effect=[1.5, 4.0, 2.5])
    run_to_end(local_executor, Workflow(always_retry(token, 3)))
    assert [call.args for call in rng.uniform.call_args_list] == [(1, 5)] * 3  # the default bounds
    assert [when for when, _ in jobs_core.CALLS[token]] == pytest.approx([0, 1.5, 5.5, 8.0])


def test_retry_with_max_retries_zero_fails_at_once(local_executor, token):
    workflow_id, state = run_to_end(local_executor, Workflow(always_retry(token, 0, 0, 0)))
    assert state.status is WorkflowStatus.FAILURE
    assert local_executor.job_state(workflow_id, "1").retries == 0
    assert len(jobs_core.CALLS[token]) == 1


def test_retry_then_success(local_executor, clock):
    workflow_id, state = run_to_end(local_executor, flaky_workflow(succeed_on_try=3))
    assert state.status is WorkflowStatus.SUCCESS
    caller = local_executor.job_state(workflow_id, "1")
    assert (caller.status, caller.retries, caller.checks) == (JobStatus.SUCCESS, 2, 0)
    assert local_executor.outputs(workflow_id)["payload"] == [{"answered_on_try": 3}]
    assert 2 <= clock.now() <= 6  # two delays drawn from [1, 3]


# --- CheckLater -----------------------------------------------------------------------------------


def test_check_later_keeps_its_context_and_is_not_a_retry(local_executor, token, clock):
    workflow_id, state = run_to_end(local_executor, Workflow(count_in_context(token, 3)))
    assert state.status is WorkflowStatus.SUCCESS
    job_state = local_executor.job_state(workflow_id, "1")
    assert job_state.status is JobStatus.SUCCESS
    assert job_state.checks == 3
    assert job_state.retries == 0
    assert job_state.context == {"counter": 3}
    assert job_state.result == 3
    assert jobs_core.CALLS[token] == [{}, {"counter": 1}, {"counter": 2}, {"counter": 3}]
    assert clock.now() == 15  # three checks, 5 virtual seconds apart


def test_check_later_finishes_once_a_parallel_job_creates_the_file(local_executor, tmp_path, event_name):
    path = str(tmp_path / "ready.txt")
    workflow = Workflow(Group(wait_for_file(path, event_name), create_file_after(path, "hello", event_name)))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.SUCCESS
    waiter = local_executor.job_state(workflow_id, "1")
    assert waiter.result == "hello"
    assert waiter.checks == 1
    assert local_executor.outputs(workflow_id) == {"contents": ["hello"]}


def test_check_later_finishes_once_the_virtual_clock_passes_a_time(local_executor, token, clock):
    workflow_id, state = run_to_end(local_executor, Workflow(wait_until(token, 20)))
    assert state.status is WorkflowStatus.SUCCESS
    assert jobs_core.CALLS[token] == [0, 7, 14, 21]
    job_state = local_executor.job_state(workflow_id, "1")
    assert (job_state.checks, job_state.retries, job_state.result) == (3, 0, 21)


# --- bad returns and exceptions ------------------------------------------------------------------


def test_non_job_result_return_fails_with_invalid_job_return(local_executor):
    workflow_id, state = run_to_end(local_executor, Workflow(Chain(noop(), return_garbage())))
    assert state.status is WorkflowStatus.FAILURE
    job_state = local_executor.job_state(workflow_id, "2")
    assert job_state.status is JobStatus.FAILURE
    for part in ("InvalidJobReturn", "job 2", "tests.jobs.scenario.return_garbage", "42"):
        assert part in job_state.exception, part


def test_exception_traceback_is_kept(local_executor):
    workflow_id, state = run_to_end(local_executor, Workflow(explode("kaboom")))
    assert state.status is WorkflowStatus.FAILURE
    job_state = local_executor.job_state(workflow_id, "1")
    assert job_state.status is JobStatus.FAILURE
    assert job_state.exception.startswith("Traceback (most recent call last)")
    assert "ValueError: kaboom" in job_state.exception
    assert "jobs/scenario.py" in job_state.exception and "in explode" in job_state.exception
    assert job_state.result is None


def test_non_json_safe_success_value_fails_the_job(local_executor):
    workflow_id, state = run_to_end(local_executor, Workflow(return_unstorable()))
    assert state.status is WorkflowStatus.FAILURE
    job_state = local_executor.job_state(workflow_id, "1")
    assert job_state.status is JobStatus.FAILURE
    for part in ("job 1", "tests.jobs.scenario.return_unstorable", "output 'value'", "set"):
        assert part in job_state.exception, part
    assert local_executor.outputs(workflow_id) == {}


# --- inputs ---------------------------------------------------------------------------------------


def test_reserved_inputs_reach_the_job(local_executor):
    workflow = Workflow(Chain(noop(), introspect()))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.SUCCESS
    info = local_executor.job_state(workflow_id, "2").result
    assert info["job_id"] == "2"
    assert info["workflow_id"] == workflow_id
    assert info["workflow_type"] == "Workflow"
    assert info["workflow_jobs"] == ["1", "2"]
    assert info["my_function"] == "tests.jobs.core.introspect"
    assert info["job_state_type"] == "JobState"
    assert info["job_state_status"] in ("pending", "starting")
    assert info["job_state_retries"] == 0
    assert info["workflow_state_type"] == "WorkflowState"
    assert info["workflow_state_status"] == "running"


def test_group_outputs_reach_a_list_consumer_in_graph_order_not_finish_order(local_executor, token, event_name):
    workflow = Workflow(
        Chain(
            Group(
                produce_after(token, "first", wait_for_event=event_name),
                produce_after(token, "second"),
                produce_after(token, "third", set_event=event_name),
            ),
            Group(count(), join_items()),
        )
    )
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.SUCCESS
    assert jobs_core.CALLS[token][-1] == "first"  # it finished last ...
    outputs = local_executor.outputs(workflow_id)
    assert outputs["words"] == ["first", "second", "third"]  # ... yet comes first
    assert outputs["joined"] == ["first second third"]
    assert outputs["count"] == [3]


def test_renamed_inputs_arrive(local_executor):
    workflow = Workflow(Chain(Group(uppercase("a"), uppercase("b"), produce(21)), Group(join_items(), double())))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.SUCCESS
    assert local_executor.outputs(workflow_id) == {
        "words": ["A", "B"],
        "value": [21],
        "joined": ["A B"],
        "double": [42],
    }


# --- ON_FINISHED ----------------------------------------------------------------------------------


def test_on_finished_runs_after_success_with_the_final_status(local_executor):
    workflow = Workflow(Group(produce(1), produce(2))).on(ON_FINISHED, report())
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.SUCCESS
    (callback_id,) = workflow.callback_ids()
    callback = local_executor.job_state(workflow_id, callback_id)
    assert callback.status is JobStatus.SUCCESS
    assert callback.result == {"status": "success", "values": [1, 2]}
    assert local_executor.progress(workflow_id) == (2, 2)  # callbacks aside


def test_on_finished_runs_after_failure_with_the_final_status(local_executor, token):
    workflow = Workflow(Chain(produce(1), fail_with(token, "x"), produce(3))).on(ON_FINISHED, report())
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    callback = local_executor.job_state(workflow_id, workflow.callback_ids()[0])
    assert callback.status is JobStatus.SUCCESS
    assert callback.result == {"status": "failure", "values": [1]}
    assert local_executor.job_state(workflow_id, "3").status is JobStatus.PENDING


def test_a_failing_callback_does_not_change_the_outcome(local_executor):
    workflow = Workflow(noop()).on(ON_FINISHED, explode("in callback")).on(ON_FINISHED, noop())
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.SUCCESS
    first, second = workflow.callback_ids()
    assert local_executor.job_state(workflow_id, first).status is JobStatus.FAILURE
    assert "in callback" in local_executor.job_state(workflow_id, first).exception
    assert local_executor.job_state(workflow_id, second).status is JobStatus.SUCCESS


# --- run bookkeeping: clear, [], del, wait, unknown ids -----------------------------------------


def test_clear_forgets_a_finished_run(local_executor):
    workflow_id, _ = run_to_end(local_executor, Workflow(noop()))
    local_executor.clear(workflow_id)
    with pytest.raises(WorkflowDoesNotExist):
        local_executor.workflow_state(workflow_id)
    with pytest.raises(WorkflowDoesNotExist):
        local_executor.job_states(workflow_id)


def test_clear_and_del_refuse_a_running_run_and_wait_without_blocking(local_executor, event_name):
    workflow = Workflow(Chain(block_until(event_name), noop()))
    workflow_id = local_executor.run(workflow)
    try:
        with pytest.raises(WorkflowNotFinished):
            local_executor.clear(workflow_id)
        with pytest.raises(WorkflowNotFinished):
            del local_executor[workflow_id]
        state = local_executor.wait(workflow_id, block=False)
        assert state.status is WorkflowStatus.RUNNING
        assert state.is_finished is False
        with pytest.raises(TimeoutError):
            local_executor.wait(workflow_id, timeout=0.05)
        assert local_executor.progress(workflow_id) == (0, 2)
    finally:
        jobs_core.EVENTS[event_name].set()
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status is WorkflowStatus.SUCCESS
    assert local_executor.wait(workflow_id, block=False).status is WorkflowStatus.SUCCESS
    local_executor.clear(workflow_id)
    with pytest.raises(WorkflowDoesNotExist):
        local_executor.wait(workflow_id, block=False)


def test_item_access_and_deletion(local_executor):
    workflow = words_workflow()
    workflow_id, _ = run_to_end(local_executor, workflow)
    assert (
        local_executor[workflow_id]
        == local_executor.workflow_state(workflow_id)
        == WorkflowState(WorkflowStatus.SUCCESS)
    )
    assert local_executor.workflow(workflow_id) is workflow
    del local_executor[workflow_id]
    with pytest.raises(WorkflowDoesNotExist):
        local_executor[workflow_id]


@pytest.mark.parametrize(
    "call",
    [
        lambda e, i: e.workflow(i),
        lambda e, i: e.workflow_state(i),
        lambda e, i: e.job_states(i),
        lambda e, i: e.job_state(i, "1"),
        lambda e, i: e.outputs(i),
        lambda e, i: e.progress(i),
        lambda e, i: e.clear(i),
        lambda e, i: e.wait(i),
        lambda e, i: e.wait(i, block=False),
        lambda e, i: e[i],
        lambda e, i: e.__delitem__(i),
    ],
    ids=[
        "workflow",
        "workflow_state",
        "job_states",
        "job_state",
        "outputs",
        "progress",
        "clear",
        "wait",
        "wait-nonblocking",
        "getitem",
        "delitem",
    ],
)
def test_unknown_id_raises_workflow_does_not_exist(local_executor, call):
    with pytest.raises(WorkflowDoesNotExist, match="no-such-run"):
        call(local_executor, "no-such-run")


def test_workflow_does_not_exist_is_a_key_error(local_executor):
    with pytest.raises(KeyError):
        local_executor.workflow_state("no-such-run")


def test_states_handed_out_are_copies(local_executor, token):
    workflow_id, _ = run_to_end(local_executor, Workflow(count_in_context(token, 1)))
    handed = local_executor.job_state(workflow_id, "1")
    handed.context["counter"] = 99
    handed.status = JobStatus.FAILURE
    again = local_executor.job_state(workflow_id, "1")
    assert again.context == {"counter": 1}
    assert again.status is JobStatus.SUCCESS


# --- JobState / WorkflowState ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [
        JobState(),
        JobState(
            status=JobStatus.FAILURE,
            retries=2,
            checks=5,
            context={"n": [1, 2]},
            exception="Traceback ...",
            result={"why": "x"},
        ),
        JobState(status=JobStatus.SUCCESS, result=[1, "a", None]),
        JobState(status=JobStatus.STARTING),
    ],
    ids=repr,
)
def test_job_state_serialize_round_trip(state):
    data = state.serialize()
    assert data["status"] == state.status.value
    restored = JobState.deserialize(json.loads(json.dumps(data)))
    assert restored == state
    assert restored.status is state.status


@pytest.mark.parametrize("status", list(WorkflowStatus))
def test_workflow_state_serialize_round_trip(status):
    state = WorkflowState(status=status)
    data = json.loads(json.dumps(state.serialize()))
    assert data == {"status": status.value}
    assert WorkflowState.deserialize(data) == state


def test_is_finished():
    assert {s: JobState(status=s).is_finished for s in JobStatus} == {
        JobStatus.PENDING: False,
        JobStatus.STARTING: False,
        JobStatus.SUCCESS: True,
        JobStatus.FAILURE: True,
    }
    assert {s: WorkflowState(status=s).is_finished for s in WorkflowStatus} == {
        WorkflowStatus.PENDING: False,
        WorkflowStatus.RUNNING: False,
        WorkflowStatus.SUCCESS: True,
        WorkflowStatus.FAILURE: True,
    }
    assert JobState().status is JobStatus.PENDING and WorkflowState().status is WorkflowStatus.PENDING


@pytest.mark.parametrize(
    "data",
    [None, [], "success", {}, {"status": "exploded"}, {"status": "success", "colour": "red"}],
    ids=repr,
)
def test_state_deserialize_of_malformed_data_raises_invalid_workflow(data):
    with pytest.raises(InvalidWorkflow):
        JobState.deserialize(data)
    with pytest.raises(InvalidWorkflow):
        WorkflowState.deserialize(data)


def test_state_deserialize_of_a_dict_with_mixed_unknown_keys_raises_invalid_workflow():
    # A Python dict (not JSON) may have keys of several types; the error must still be InvalidWorkflow.
    data = {"status": "success", 1: "x", "zz": 2}
    with pytest.raises(InvalidWorkflow, match="unknown keys"):
        JobState.deserialize(data)
    with pytest.raises(InvalidWorkflow, match="unknown keys"):
        WorkflowState.deserialize(data)


def test_an_error_of_the_executor_itself_fails_the_job_it_was_handling_and_the_run_goes_on(
    local_executor, token, mocker
):
    """Nothing unrecorded: should settling a job's result raise (here the one-line log), that job fails with
    the traceback, the independent job still runs and the ON_FINISHED callback still runs."""
    real_summarize = local_module.summarize

    def summarize(workflow, job_id, call, delay=None):
        if job_id == "1":
            raise RuntimeError("the log line could not be made")
        return real_summarize(workflow, job_id, call, delay)

    mocker.patch.object(local_module, "summarize", side_effect=summarize)
    workflow = Workflow(Group(record(token, "first"), record(token, "second")))
    workflow.on(Workflow.Callbacks.ON_FINISHED, report())
    workflow_id, state = run_to_end(local_executor, workflow)

    states = local_executor.job_states(workflow_id)
    assert state.status is WorkflowStatus.FAILURE
    assert states["1"].status is JobStatus.FAILURE
    assert "the LocalExecutor failed while handling job 1" in states["1"].exception
    assert "RuntimeError: the log line could not be made" in states["1"].exception
    assert states["2"].status is JobStatus.SUCCESS
    assert states["3"].status is JobStatus.SUCCESS and states["3"].result["status"] == "failure"
