"""Every row of the semantics table, checked on both engines: LocalExecutor and Airflow (dag.test)."""

from __future__ import annotations

import logging

import pytest

from hymir import Chain, Group, InvalidWorkflow, JobStatus, Workflow, WorkflowDoesNotExist, WorkflowStatus
from tests.jobs import scenario as jobs


def run(executor, workflow: Workflow):
    workflow_id = executor.run(workflow)
    executor.wait(workflow_id, sleep=0.1, timeout=120)
    return workflow_id


def calls(path) -> int:
    return len(path.read_text().splitlines())


def test_success_and_none(executor):
    workflow_id = run(executor, Workflow(Chain(jobs.produce("x"), jobs.returns_none())))

    assert executor.workflow_state(workflow_id).status is WorkflowStatus.SUCCESS
    states = executor.job_states(workflow_id)
    assert [states[j].status for j in ("1", "2")] == [JobStatus.SUCCESS, JobStatus.SUCCESS]
    assert states["1"].result == "x" and states["2"].result is None
    assert states["1"].exception is None and states["1"].retries == 0
    assert executor.outputs(workflow_id) == {"value": ["x"]}
    assert executor.progress(workflow_id) == (2, 2)


def test_outputs_keep_their_json_types(executor):
    values = ["42", '"quoted"', "null", 42, None, [1, "2"], {"k": [True]}]
    workflow_id = run(executor, Workflow(Group(*(jobs.produce(value) for value in values))))

    assert executor.outputs(workflow_id) == {"value": values}


def test_failure_stops_the_workflow(executor, tmp_path):
    second = tmp_path / "second"
    workflow_id = run(executor, Workflow(Chain(jobs.fail_with({"code": 7}), jobs.tally(str(second)))))

    assert executor.workflow_state(workflow_id).status is WorkflowStatus.FAILURE
    first, after = executor.job_state(workflow_id, "1"), executor.job_state(workflow_id, "2")
    assert first.status is JobStatus.FAILURE and first.retries == 0
    assert first.result == {"code": 7}
    assert "job 1 (tests.jobs.scenario.fail_with) returned Failure({'code': 7})" in first.exception
    assert after.status is JobStatus.PENDING
    assert not second.exists()
    assert executor.progress(workflow_id) == (1, 2)


def test_retry_until_the_cap_then_fail(executor, tmp_path):
    path = tmp_path / "calls"
    workflow_id = run(executor, Workflow(Chain(jobs.always_retry(str(path), 2))))

    state = executor.job_state(workflow_id, "1")
    assert state.status is JobStatus.FAILURE
    assert state.retries == 2
    assert calls(path) == 3
    assert "gave up after 2 retries (max_retries=2)" in state.exception
    assert executor.workflow_state(workflow_id).status is WorkflowStatus.FAILURE


def test_retry_then_success_counts_retries(executor):
    workflow_id = run(executor, Workflow(Chain(jobs.succeed_on_third_try())))

    state = executor.job_state(workflow_id, "1")
    assert state.status is JobStatus.SUCCESS
    assert state.retries == 2
    assert state.result == 2
    assert executor.outputs(workflow_id) == {"value": [2]}


def test_check_later_keeps_context_and_is_not_a_retry(executor):
    workflow_id = run(executor, Workflow(Chain(jobs.count_checks(target=3))))

    state = executor.job_state(workflow_id, "1")
    assert state.status is JobStatus.SUCCESS
    assert state.result == {"counter": 3, "retries": 0}
    assert state.checks == 2
    assert state.context == {"counter": 2}
    assert state.retries == 0


def test_check_later_finishes_once_its_condition_holds(executor, tmp_path):
    flag = tmp_path / "flag"
    workflow = Workflow(Group(jobs.wait_for_file(str(flag)), jobs.create_file(str(flag), "ready")))
    workflow_id = run(executor, workflow)

    waiter = executor.job_state(workflow_id, "1")
    assert waiter.status is JobStatus.SUCCESS
    assert waiter.result == "ready"
    assert executor.workflow_state(workflow_id).status is WorkflowStatus.SUCCESS


def test_unhandled_exception_keeps_the_traceback(executor):
    workflow_id = run(executor, Workflow(Chain(jobs.explode("boom"))))

    state = executor.job_state(workflow_id, "1")
    assert state.status is JobStatus.FAILURE
    assert "Traceback" in state.exception
    assert "ValueError: boom" in state.exception
    assert state.retries == 0


def test_invalid_return_names_the_job_and_value(executor):
    workflow_id = run(executor, Workflow(Chain(jobs.return_garbage())))

    state = executor.job_state(workflow_id, "1")
    assert state.status is JobStatus.FAILURE
    assert "job 1 (tests.jobs.scenario.return_garbage) returned 42 (int)" in state.exception
    assert state.retries == 0


def test_unstorable_output_names_job_output_and_type(executor):
    workflow_id = run(executor, Workflow(Chain(jobs.return_unstorable())))

    state = executor.job_state(workflow_id, "1")
    assert state.status is JobStatus.FAILURE
    assert "job 1 (tests.jobs.scenario.return_unstorable)" in state.exception
    assert "output 'value'" in state.exception and "set" in state.exception
    assert executor.outputs(workflow_id) == {}


def test_group_outputs_reach_a_list_consumer_in_graph_order(executor):
    workflow = Workflow(Chain(Group(jobs.shout("a"), jobs.shout("b"), jobs.shout("c")), jobs.count_words()))
    workflow_id = run(executor, workflow)

    assert executor.job_state(workflow_id, "4").result == {"count": 3, "words": ["A", "B", "C"]}
    assert executor.outputs(workflow_id) == {"word": ["A", "B", "C"], "count": [{"count": 3, "words": ["A", "B", "C"]}]}


def test_renamed_single_input(executor):
    workflow_id = run(executor, Workflow(Chain(jobs.produce(21), jobs.double())))

    assert executor.job_state(workflow_id, "2").result == 42
    assert executor.outputs(workflow_id)["double"] == [42]


def test_reserved_inputs(executor):
    workflow_id = run(executor, Workflow(Chain(jobs.produce(1), jobs.introspect())))

    assert executor.job_state(workflow_id, "2").result == {
        "job_id": "2",
        "workflow_id": workflow_id,
        "jobs_in_workflow": 2,
        "retries": 0,
        "workflow_status": "running",
    }


@pytest.mark.parametrize("first_fails", [False, True], ids=["after-success", "after-failure"])
def test_on_finished_runs_after_success_and_failure(executor, first_fails):
    first = jobs.fail_with("no") if first_fails else jobs.produce("a")
    workflow = Workflow(Chain(first, jobs.produce("b")))
    workflow.on(Workflow.Callbacks.ON_FINISHED, jobs.report())
    workflow_id = run(executor, workflow)

    callback = executor.job_state(workflow_id, "3")
    assert callback.status is JobStatus.SUCCESS
    if first_fails:
        assert callback.result == {"status": "failure", "values": []}
        assert executor.workflow_state(workflow_id).status is WorkflowStatus.FAILURE
    else:
        assert callback.result == {"status": "success", "values": ["a", "b"]}
        assert executor.workflow_state(workflow_id).status is WorkflowStatus.SUCCESS
    assert executor.progress(workflow_id) == ((1, 2) if first_fails else (2, 2))


@pytest.mark.parametrize("overrides", [None, {"name": "Airflow"}], ids=["defaults", "overridden"])
def test_params_reach_jobs_as_inputs(executor, overrides):
    workflow = Workflow(Chain(jobs.greet()), params={"greeting": "hello", "name": "world"})
    workflow_id = executor.run(workflow, params=overrides)
    executor.wait(workflow_id, sleep=0.1, timeout=120)

    expected = "hello, Airflow" if overrides else "hello, world"
    assert executor.outputs(workflow_id) == {"value": [expected]}


def test_unknown_param_is_refused(executor):
    workflow = Workflow(Chain(jobs.greet()), params={"greeting": "hello", "name": "world"})
    with pytest.raises(InvalidWorkflow, match=r"unknown params \['nmae'\]"):
        executor.run(workflow, params={"nmae": "typo"})


def test_each_result_is_logged_in_one_readable_line(executor, caplog, capfd):
    caplog.set_level(logging.INFO, logger="hymir")
    run(executor, Workflow(Chain(jobs.produce(21), jobs.double())))
    run(executor, Workflow(Chain(jobs.count_checks(target=2))))

    captured = capfd.readouterr()
    logged = caplog.text + captured.out + captured.err
    assert "job 2 (tests.jobs.scenario.double): number=21 -> Success(result=42)" in logged
    assert (
        "job 1 (tests.jobs.scenario.count_checks): target=2 -> CheckLater(wait_for=1, context={'counter': 1}); "
        "next check at" in logged
    )


def test_clear_forgets_the_run(executor):
    workflow = Workflow(Chain(jobs.produce("x")))
    workflow_id = run(executor, workflow)
    assert executor.workflow(workflow_id) is workflow
    assert executor[workflow_id].status is WorkflowStatus.SUCCESS

    del executor[workflow_id]

    with pytest.raises(WorkflowDoesNotExist):
        executor.workflow_state(workflow_id)
    with pytest.raises(WorkflowDoesNotExist):
        executor.clear(workflow_id)
