"""Coming from hymir 0.1.9: its own test suite ported, its names and serialized forms, and each deliberate difference.

The first part replays every test of 0.1.9's suite (tests/test_workflow.py, test_executor.py,
test_celery.py and test_readme.py at its v0.1.9 tag), written anew and with 0.1.9's names
(``JobState.Status``, ``WorkflowState.Status``, ``executor[...]``). Its CeleryExecutor on Redis
becomes the LocalExecutor on virtual time, so retries and checks take no real time. A test
whose outcome differs here asserts this project's behaviour and says why in one line; the
migration page (docs/migration.md) lists the same differences. The serialized forms are read
from tests/hymir_019_serialized.json, which the real 0.1.9 wrote.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hymir import (
    Chain,
    Group,
    InvalidWorkflow,
    Job,
    JobState,
    JobStatus,
    Retry,
    Success,
    Workflow,
    WorkflowNotFinished,
    WorkflowState,
    WorkflowStatus,
)
from hymir.clock import VirtualClock
from hymir.decision import Verdict, decide
from hymir.errors import WorkflowDoesNotExist
from hymir.executor import Executor
from hymir.executors.local import LocalExecutor
from tests.jobs import hymir_019 as jobs
from tests.jobs.hymir_019 import (
    begin_report,
    check_until,
    check_with_context,
    count_shouted,
    crash,
    fail,
    gives_sample,
    onboard,
    placeholder,
    report_ids,
    retry_always,
    return_text,
    roll_up,
    shout,
    store_results,
    succeed,
    summarize_reports,
    takes_sample,
    unreachable,
)

ON_FINISHED = Workflow.Callbacks.ON_FINISHED
#: A bound (seconds of real time) on every wait here; on virtual time each run takes milliseconds.
TIMEOUT = 5
FIXTURES = json.loads((Path(__file__).parent / "hymir_019_serialized.json").read_text())
#: Where the test jobs live, for reading workflows back.
ALLOWED = ["tests"]


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def local_executor(clock, monkeypatch) -> LocalExecutor:
    """The LocalExecutor on virtual time, which the jobs that look at the time read too."""
    monkeypatch.setattr(jobs, "now", clock.now)
    with LocalExecutor(clock=clock) as local:
        yield local


# --- 0.1.9 tests/test_workflow.py -----------------------------------------------------------------


def test_a_workflow_round_trips_through_serialize():
    """test_workflow_serialize; reading back names the modules it may import (deserializing imports functions)."""
    workflow = Workflow(Chain(placeholder(), Group(placeholder(), placeholder())))
    serialized = workflow.serialize()
    assert Workflow.deserialize(serialized, allowed_modules=ALLOWED).serialize() == serialized


def test_a_group_after_a_job_depends_on_it():
    """test_workflow_dependencies."""
    workflow = Workflow(Chain(placeholder(), Group(placeholder(), placeholder())))
    assert list(workflow.dependencies) == [("1", []), ("2", ["1"]), ("3", ["1"])]


def test_a_group_after_a_chain_depends_on_its_last_job():
    """test_workflow_chain_before_group."""
    workflow = Workflow(Chain(Chain(placeholder(), placeholder()), Group(placeholder(), placeholder())))
    assert list(workflow.dependencies) == [("1", []), ("2", ["1"]), ("3", ["2"]), ("4", ["2"])]


def test_a_chain_after_a_group_waits_for_all_of_it():
    """test_workflow_group_before_chain."""
    workflow = Workflow(Chain(Group(placeholder(), placeholder()), Chain(placeholder(), placeholder())))
    assert list(workflow.dependencies) == [("1", []), ("2", []), ("3", ["1", "2"]), ("4", ["3"])]


def test_a_member_that_is_not_a_job_is_a_value_error():
    """test_workflow_invalid_node."""
    expected = r"member 1 of Chain is 'invalid_node' \(str\), not a Job, Map, Unit, Chain or Group"
    with pytest.raises(ValueError, match=expected):
        Workflow(Chain("invalid_node"))


def test_inputs_without_a_producer_are_refused_and_produced_ones_are_listed():
    """test_inputs_and_outputs. Differs: an input no job produces is refused when the workflow is built
    (0.1.9 accepted it and failed at run time); wired to a producer, the sets read as in 0.1.9."""
    with pytest.raises(InvalidWorkflow, match=r"job 2 \(tests.jobs.hymir_019.takes_sample\): input 'sample_input'"):
        Workflow(Chain(gives_sample().with_output("sample_output"), takes_sample().with_inputs("sample_input")))

    workflow = Workflow(
        Chain(
            gives_sample().with_output("sample_output"), takes_sample().with_inputs(("sample_output", "sample_input"))
        )
    )
    assert workflow.outputs == {"sample_output"}
    assert workflow.inputs == {"sample_output"}


# --- 0.1.9 tests/test_executor.py -----------------------------------------------------------------


def test_a_job_that_keeps_retrying_fails_after_its_retries(local_executor):
    """test_retry_failure."""
    workflow_id = local_executor.run(Workflow(Chain(retry_always(), unreachable())))
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.FAILURE
    states = local_executor.job_states(workflow_id)
    assert states["1"].status == JobState.Status.FAILURE
    assert states["1"].retries == 3


def test_a_failure_fails_the_workflow(local_executor):
    """test_failure."""
    workflow_id = local_executor.run(Workflow(Chain(fail(), unreachable())))
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.FAILURE
    assert local_executor.job_states(workflow_id)["1"].status == JobState.Status.FAILURE


def test_a_job_checked_later_succeeds_once_ready(local_executor, clock):
    """test_check_later (its ten seconds pass on the executor's virtual clock)."""
    workflow_id = local_executor.run(Workflow(Chain(check_until(clock.now()))))
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.SUCCESS
    assert local_executor.job_states(workflow_id)["1"].status == JobState.Status.SUCCESS


def test_a_job_checked_later_gets_its_context_back(local_executor):
    """test_check_later_with_context."""
    workflow_id = local_executor.run(Workflow(Chain(check_with_context())))
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.SUCCESS
    assert local_executor.job_states(workflow_id)["1"].status == JobState.Status.SUCCESS


def test_a_job_that_returns_something_else_fails(local_executor):
    """test_invalid_return."""
    workflow_id = local_executor.run(Workflow(Chain(return_text())))
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.FAILURE
    assert local_executor.job_states(workflow_id)["1"].status == JobState.Status.FAILURE


def test_a_job_that_raises_fails(local_executor):
    """test_unhandled_exception."""
    workflow_id = local_executor.run(Workflow(Chain(crash())))
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.FAILURE
    assert local_executor.job_states(workflow_id)["1"].status == JobState.Status.FAILURE


def test_reserved_inputs_give_the_job_and_run_ids(local_executor):
    """test_job_needs_input."""
    workflow_id = local_executor.run(Workflow(Chain(report_ids())))
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.SUCCESS
    assert local_executor.job_states(workflow_id)["1"].status == JobState.Status.SUCCESS
    assert local_executor.outputs(workflow_id) == {"the_ids": [{"job_id": "1", "workflow_id": workflow_id}]}


def test_progress_counts_finished_jobs(local_executor):
    """test_workflow_progress."""
    workflow_id = local_executor.run(Workflow(Chain(succeed())))
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.SUCCESS
    assert local_executor.progress(workflow_id) == (1, 1)

    workflow_id = local_executor.run(Workflow(Chain(fail(), succeed())))
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.FAILURE
    assert local_executor.progress(workflow_id) == (1, 2)


def test_an_unknown_run_does_not_exist(local_executor):
    """test_invalid_workflow."""
    with pytest.raises(WorkflowDoesNotExist):
        local_executor.workflow("does_not_exist")


def test_job_states_of_all_jobs_or_some(local_executor):
    """test_job_states."""
    workflow_id = local_executor.run(Workflow(Chain(succeed(), succeed(), succeed())))
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.SUCCESS
    assert len(local_executor.job_states(workflow_id)) == 3
    assert len(local_executor.job_states(workflow_id, job_ids=["1", "2"])) == 2


def test_wait_without_blocking_returns_the_state_at_once(local_executor, clock, monkeypatch):
    """test_non_blocking_wait (the job's first look at the clock waits for the test's look, so they cannot race)."""
    looked = threading.Event()
    monkeypatch.setattr(jobs, "now", lambda: looked.wait(TIMEOUT) and clock.now())
    workflow_id = local_executor.run(Workflow(Chain(check_until(clock.now()))))

    state = local_executor.wait(workflow_id, block=False)
    looked.set()
    assert state.status in [WorkflowState.Status.RUNNING, WorkflowState.Status.PENDING]
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.SUCCESS


def test_a_cleared_run_is_forgotten(local_executor):
    """test_clear."""
    workflow_id = local_executor.run(Workflow(Chain(succeed())))
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.SUCCESS
    local_executor.clear(workflow_id)
    with pytest.raises(WorkflowDoesNotExist):
        local_executor.workflow(workflow_id)


# --- 0.1.9 tests/test_celery.py and tests/test_readme.py -----------------------------------------


def reporting_workflow() -> Workflow:
    workflow = Workflow(
        Chain(
            onboard(),
            Group(begin_report("inventory", {}), begin_report("sales", {})),
            summarize_reports(),
            roll_up(),
        )
    )
    return workflow.on(ON_FINISHED, store_results())


def test_a_workflow_with_a_group_and_a_callback_succeeds(local_executor):
    """test_celery."""
    workflow_id = local_executor.run(reporting_workflow())
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.SUCCESS


def test_the_traceback_of_a_job_that_raises_is_kept(local_executor):
    """test_exception_capture."""
    workflow = Workflow(Chain(crash())).on(ON_FINISHED, store_results())
    workflow_id = local_executor.run(workflow)
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.FAILURE
    state = local_executor.job_states(workflow_id)["1"]
    assert state.status == JobState.Status.FAILURE
    assert state.exception.startswith("Traceback")


def test_an_output_feeds_a_parameter_of_another_name(local_executor):
    """test_renamed_input."""
    workflow = Workflow(
        Chain(
            begin_report("inventory", {}).with_output("inventory_reports"),
            summarize_reports().with_inputs(("inventory_reports", "reports")),
        )
    )
    workflow_id = local_executor.run(workflow)
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.SUCCESS


def test_the_readme_example(local_executor):
    """test_readme."""
    workflow = Workflow(Chain(Group(shout("hello"), shout("world")), count_shouted()))
    workflow_id = local_executor.run(workflow)
    assert local_executor.wait(workflow_id).status == WorkflowState.Status.SUCCESS


# --- names 0.1.9 code uses ------------------------------------------------------------------------


def test_the_nested_status_enums_are_the_status_enums():
    assert JobState.Status is JobStatus and WorkflowState.Status is WorkflowStatus
    assert JobState().Status.PENDING is JobStatus.PENDING
    assert [member.name for member in JobState.Status] == ["PENDING", "STARTING", "SUCCESS", "FAILURE"]
    assert [member.name for member in WorkflowState.Status] == ["PENDING", "RUNNING", "SUCCESS", "FAILURE"]
    assert "Status" not in [state_field.name for state_field in dataclasses.fields(JobState)]
    with pytest.raises(InvalidWorkflow, match="unknown keys"):
        JobState.deserialize({"status": "pending", "Status": "pending"})


def test_item_access_gives_the_run_state_and_deletion_clears_it(local_executor):
    """``executor[id]`` means what it meant in 0.1.9, the run's state; ``executor.workflow(id)`` gives the workflow."""
    workflow = reporting_workflow()
    workflow_id = local_executor.run(workflow)
    local_executor.wait(workflow_id, timeout=TIMEOUT)
    assert isinstance(local_executor[workflow_id], WorkflowState)
    assert local_executor[workflow_id].status == WorkflowState.Status.SUCCESS
    assert local_executor.workflow(workflow_id) is workflow
    del local_executor[workflow_id]
    with pytest.raises(WorkflowDoesNotExist):
        local_executor[workflow_id]


def test_containers_still_answer_to_jobs():
    members = (placeholder(), Group(placeholder()))
    chain = Chain(*members)
    assert chain.jobs == chain.members == members
    with pytest.raises(AttributeError):
        chain.jobs.append(placeholder())


def test_an_unknown_run_is_still_a_value_error(local_executor):
    """0.1.9's WorkflowDoesNotExist was a ValueError; here it is a KeyError too."""
    with pytest.raises(ValueError, match="no workflow run with id 'does_not_exist'"):
        local_executor.workflow("does_not_exist")
    with pytest.raises(KeyError):
        local_executor.workflow("does_not_exist")


def test_the_modules_and_names_0_1_9_code_imports_exist():
    from hymir.errors import InvalidJobReturn, InvalidWorkflow, WorkflowDoesNotExist  # noqa: F401
    from hymir.executor import Executor, JobState, WorkflowState  # noqa: F401
    from hymir.job import CheckLater, Failure, Job, JobResult, Retry, Success, job  # noqa: F401
    from hymir.workflow import Chain, Group, Workflow  # noqa: F401

    assert Workflow.Callbacks.ON_FINISHED.value == "on_finished"


def test_a_keyword_argument_wins_over_the_input_of_the_same_parameter(local_executor):
    """As in 0.1.9: the job gets the argument, and the input needs no producer."""
    workflow = Workflow(Chain(shout("ignored"), count_shouted(words=["ONE", "two"])))
    workflow_id = local_executor.run(workflow)
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.SUCCESS
    assert local_executor.outputs(workflow_id)["count"] == [1]
    assert Workflow(count_shouted(words=["A"])).inputs == set()


@pytest.mark.airflow
def test_a_keyword_argument_wins_over_the_input_on_airflow_too(airflow_executor):
    workflow = Workflow(Chain(shout("ignored"), count_shouted(words=["ONE", "two"])))
    workflow_id = airflow_executor.run(workflow)
    assert airflow_executor.wait(workflow_id, timeout=120).status is WorkflowStatus.SUCCESS
    assert airflow_executor.outputs(workflow_id)["count"] == [1]


# --- what 0.1.9 serialized ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("decorated", shout("hello")),
        ("keyword_arguments", begin_report(report_key="sales", options={"region": "eu"})),
        (
            "renamed_input_with_meta",
            summarize_reports()
            .with_inputs(("inventory_reports", "reports"))
            .with_meta(celery={"queue": "reports", "priority": 3}),
        ),
        ("from_function", Job.from_function(roll_up.function)),
    ],
)
def test_a_job_serialized_by_0_1_9_reads_back_as_the_same_job(name, expected):
    assert Job.deserialize(FIXTURES["jobs"][name]) == expected


WORKFLOWS = [(name, networkx) for name, forms in FIXTURES["workflows"].items() for networkx in forms]


@pytest.mark.parametrize("name, networkx", WORKFLOWS)
def test_a_workflow_serialized_by_0_1_9_reads_back_as_the_same_graph(name, networkx):
    expected = {
        "readme": Workflow(Chain(Group(shout("hello"), shout("world")), count_shouted())),
        "reports": reporting_workflow(),
        "renamed_input": Workflow(
            Chain(
                begin_report("inventory", {}).with_output("inventory_reports"),
                summarize_reports().with_inputs(("inventory_reports", "reports")),
            )
        ),
        "nested": Workflow(Chain(Group(placeholder(), placeholder()), Chain(placeholder(), placeholder()))),
    }[name]
    read = Workflow.deserialize(FIXTURES["workflows"][name][networkx], allowed_modules=ALLOWED)
    assert read.jobs == expected.jobs
    assert read.dependencies == expected.dependencies
    assert read.callbacks == expected.callbacks
    assert read.structure is None  # node-link data keeps the graph, not how Chains and Groups nested


@pytest.mark.parametrize("networkx", FIXTURES["workflows"]["reports"])
def test_a_workflow_serialized_by_0_1_9_runs(local_executor, networkx):
    workflow = Workflow.deserialize(FIXTURES["workflows"]["reports"][networkx].encode(), allowed_modules=ALLOWED)
    workflow_id = local_executor.run(workflow)
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status == WorkflowState.Status.SUCCESS
    assert local_executor.outputs(workflow_id)["reports"] == [
        {"plan_id": "123", "report_key": "inventory"},
        {"plan_id": "123", "report_key": "sales"},
    ]
    assert local_executor.job_states(workflow_id)["6"].result == workflow_id


def test_a_workflow_serialized_by_0_1_9_still_needs_its_modules_allowed():
    with pytest.raises(InvalidWorkflow, match="not in an allowed module"):
        Workflow.deserialize(FIXTURES["workflows"]["readme"]["networkx 3.2.1"], allowed_modules=[])


def compact(**changes) -> dict:
    return {**FIXTURES["jobs"]["decorated"], **changes}


@pytest.mark.parametrize(
    "data, message",
    [
        ({"n": "tests.jobs.hymir_019.shout", "name": "x"}, "mixes hymir 0.1.9 keys ['n'] with other keys ['name']"),
        (compact(a="hello"), "'args' must be one of list, tuple, not str"),
        (compact(k={"1": 2}, m=[]), "'meta' must be one of dict, NoneType, not list"),
        (compact(n=None), "'name' must be one of str, not NoneType"),
        (compact(**{"<": [["only one"]]}), "invalid input ['only one']"),
        ({"i": 1}, "serialized job has no 'name'"),
    ],
)
def test_malformed_0_1_9_jobs_are_refused_naming_the_problem(data, message):
    with pytest.raises(InvalidWorkflow) as caught:
        Job.deserialize(data)
    assert message in str(caught.value)


def legacy_workflow(**changes) -> str:
    return json.dumps({**json.loads(FIXTURES["workflows"]["readme"]["networkx 3.2.1"]), **changes})


@pytest.mark.parametrize(
    "data, message",
    [
        (legacy_workflow(links={}), "needs a 'nodes' list, a 'links' (or 'edges') list and a 'callbacks' object"),
        (legacy_workflow(nodes=[{"job": {"n": "tests.jobs.hymir_019.shout"}}]), "needs a string 'id' and a 'job'"),
        (legacy_workflow(links=[{"source": "1"}]), "edge {'source': '1'} needs a 'source' and a 'target'"),
        (legacy_workflow(links=[{"source": "1", "target": "9"}]), "names '9', which is not a job of the workflow"),
        (legacy_workflow(links=[{"source": "3", "target": "1"}]), "input 'words': its producer job 1"),
        (legacy_workflow(callbacks={"on_success": FIXTURES["jobs"]["decorated"]}), "unknown callback event"),
        (legacy_workflow(callbacks={"on_finished": "not a job"}), "a serialized job must be a dict, not str"),
        ('{"nodes": [], "links": [], "callbacks": {}, "directed": tru', "malformed serialized workflow"),
    ],
)
def test_malformed_0_1_9_workflows_are_refused_naming_the_problem(data, message):
    with pytest.raises(InvalidWorkflow) as caught:
        Workflow.deserialize(data, allowed_modules=ALLOWED)
    assert message in str(caught.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_0_1_9_data_raises_only_invalid_workflow(data):
    """Whatever part of a 0.1.9 workflow is replaced or removed, reading it either works or raises InvalidWorkflow."""
    serialized = json.loads(
        FIXTURES["workflows"]["reports"][data.draw(st.sampled_from(sorted(FIXTURES["workflows"]["reports"])))]
    )
    for _ in range(data.draw(st.integers(1, 3))):
        node = serialized
        while isinstance(node, (dict, list)) and node and data.draw(st.booleans()):
            entries = node if isinstance(node, dict) else range(len(node))
            inner = [key for key in entries if isinstance(node[key], (dict, list)) and node[key]]
            if not inner:
                break
            node = node[data.draw(st.sampled_from(inner))]
        if isinstance(node, (dict, list)) and node:
            key = data.draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
            if data.draw(st.booleans()):
                node[key] = data.draw(json_values)
            else:
                del node[key]
    try:
        Workflow.deserialize(serialized, allowed_modules=ALLOWED)
    except InvalidWorkflow as error:
        refused = str(error)
    else:
        refused = "accepted"
    # Either the data is still valid, or our error explains why it is not.
    assert refused


# --- deliberate differences -----------------------------------------------------------------------


def test_statuses_are_named_strings_not_numbers():
    """Readable in JSON, logs and Airflow's UI; 0.1.9's IntEnum made SUCCESS 2 for jobs and 3 for workflows."""
    assert JobState.Status.SUCCESS.value == WorkflowState.Status.SUCCESS.value == "success"
    assert JobState.Status.SUCCESS != 2


def test_states_serialize_to_dicts_and_refuse_0_1_9_strings():
    """States are JSON-safe dicts here (0.1.9 wrote JSON strings for its Redis keys, which this project has not)."""
    assert JobState().serialize() == {
        "status": "pending",
        "retries": 0,
        "checks": 0,
        "context": {},
        "exception": None,
        "result": None,
    }
    with pytest.raises(InvalidWorkflow, match="is a dict with a 'status'"):
        JobState.deserialize('{"status": 0, "retries": 0, "context": {}, "exception": null}')


def test_the_state_of_an_unknown_run_is_an_error(local_executor):
    """A mistyped id must not look like a run that has not started (0.1.9 gave a fresh PENDING state)."""
    with pytest.raises(WorkflowDoesNotExist):
        local_executor.workflow_state("does_not_exist")
    with pytest.raises(WorkflowDoesNotExist):
        local_executor["does_not_exist"]


def test_clearing_a_run_that_is_still_going_is_an_error(local_executor, monkeypatch):
    """Nothing is dropped silently (0.1.9's clear() did nothing for an unfinished run)."""
    looked = threading.Event()
    monkeypatch.setattr(jobs, "now", lambda: looked.wait(TIMEOUT) and 0.0)
    workflow_id = local_executor.run(Workflow(check_until(-10.0)))
    with pytest.raises(WorkflowNotFinished):
        local_executor.clear(workflow_id)
    looked.set()
    local_executor.wait(workflow_id, timeout=TIMEOUT)
    local_executor.clear(workflow_id)


def test_retries_are_capped_by_default_and_zero_means_none():
    """A Retry without max_retries gets the workflow's cap, 3 (0.1.9 retried forever, also for max_retries=0)."""
    workflow = Workflow(retry_always())
    assert decide(workflow, "1", Retry(), JobState(retries=2)).verdict is Verdict.RETRY
    assert decide(workflow, "1", Retry(), JobState(retries=3)).verdict is Verdict.GAVE_UP
    assert decide(workflow, "1", Retry(max_retries=0), JobState()).verdict is Verdict.GAVE_UP


def test_a_failure_keeps_its_value_and_reason(local_executor):
    """0.1.9 dropped a Failure's value; here it is the job's result, and the reason its exception."""
    workflow_id = local_executor.run(Workflow(fail()))
    local_executor.wait(workflow_id, timeout=TIMEOUT)
    state = local_executor.job_state(workflow_id, "1")
    assert state.result == "failed on purpose"
    assert "returned Failure('failed on purpose')" in state.exception


def test_outputs_leave_out_what_no_job_delivered(local_executor):
    """An output whose producers all failed is absent (0.1.9 listed it with no values)."""
    workflow_id = local_executor.run(Workflow(Chain(fail().with_output("nothing"), succeed())))
    local_executor.wait(workflow_id, timeout=TIMEOUT)
    assert local_executor.outputs(workflow_id) == {}


def test_a_failed_branch_does_not_stop_the_others(local_executor):
    """Independent branches go on as in Airflow (0.1.9 ended the run at the first failure); fail_fast stops them."""
    branches = Group(Chain(fail(), unreachable()), Chain(succeed().with_output("done"), shout("on")))
    workflow_id = local_executor.run(Workflow(branches))
    assert local_executor.wait(workflow_id, timeout=TIMEOUT).status is WorkflowStatus.FAILURE
    states = local_executor.job_states(workflow_id)
    assert [states[job_id].status for job_id in ("1", "2", "3", "4")] == [
        JobStatus.FAILURE,
        JobStatus.PENDING,
        JobStatus.SUCCESS,
        JobStatus.SUCCESS,
    ]


def test_with_meta_adds_to_the_meta():
    """The seed says with_meta adds metadata (0.1.9 replaced the whole dict)."""
    assert succeed().with_meta(a=1).with_meta(b=2).meta == {"a": 1, "b": 2}


def test_workflow_inputs_leave_out_reserved_inputs():
    """Only outputs of jobs are inputs of the graph (0.1.9 also listed 'workflow_id' and the like)."""
    assert Workflow(report_ids()).inputs == set()


def test_callbacks_add_up_and_each_has_a_state(local_executor):
    """Several ON_FINISHED jobs may be registered (0.1.9 kept one per event), each a job with its own state."""
    workflow = Workflow(succeed()).on(ON_FINISHED, store_results()).on(ON_FINISHED, store_results())
    assert [job.identity for job in workflow.callbacks[ON_FINISHED]] == ["2", "3"]
    workflow_id = local_executor.run(workflow)
    local_executor.wait(workflow_id, timeout=TIMEOUT)
    assert local_executor.job_state(workflow_id, "3").result == workflow_id


def test_identities_are_strings_and_the_given_jobs_stay_unchanged():
    """Jobs are values: the workflow numbers copies ("1", "2") and leaves the caller's jobs as they were."""
    first, second = succeed(), succeed()
    workflow = Workflow(Chain(first, second))
    assert [job.identity for job in workflow.jobs.values()] == ["1", "2"]
    assert first.identity is None and second.identity is None


def test_results_are_values():
    """Frozen dataclasses: equal when their fields are, with the field names in their repr."""
    assert Success(1) == Success(1)
    assert repr(Success(1)) == "Success(result=1)"


def test_a_job_is_run_through_its_function():
    """A Job is data, not callable (0.1.9 called it with a crumb getter); its function runs it."""
    bound = shout("hi")
    assert not callable(bound)
    assert bound.function(*bound.args, **bound.kwargs) == Success("HI")


def test_a_graph_is_built_from_jobs_and_edges():
    """No networkx: Workflow.from_graph takes the jobs by identity and the edges (0.1.9 took an nx.DiGraph)."""
    workflow = Workflow.from_graph({"a": placeholder(), "b": placeholder()}, [("a", "b")])
    assert workflow.dependencies == [("a", []), ("b", ["a"])]
    with pytest.raises(InvalidWorkflow, match="built from a Chain, Group, Unit, Map or Job"):
        Workflow({"a": placeholder()})


def test_values_must_survive_json():
    """A value JSON would alter is refused naming the job (0.1.9 turned a tuple into a list on the way)."""
    outcome = decide(Workflow(shout("x")), "1", Success(("a", "b")), JobState())
    assert outcome.verdict is Verdict.FAILED
    assert "job 1 (tests.jobs.hymir_019.shout): output 'words' cannot be stored" in outcome.reason


def test_executors_implement_the_whole_api():
    """0.1.9's Executor kept state in Redis and left only run() abstract; here each engine implements its storage."""
    assert Executor.__abstractmethods__ == {"run", "workflow", "workflow_state", "job_states", "outputs", "clear"}
