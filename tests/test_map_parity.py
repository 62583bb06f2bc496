"""Map, one semantics on two engines: the items of a mapped job as LocalExecutor and Airflow report them.

Each scenario (a workflow of ``SCENARIOS``) runs once per engine and module: the LocalExecutor on
a VirtualClock, and the session's in-process AirflowExecutor (dag.test(), where a mapped job is a
mapped task with one task instance per item). Tests parametrized over ``executor`` check what a
user sees on each engine against what the Map means; ``test_both_engines_report_the_same`` then
compares the two engines' reports field by field, exceptions normalised to what both must agree
on (a traceback's last line). Waits are zero seconds but where a test needs an item to stay
behind the others (a few seconds on Airflow, none on the VirtualClock); even so, a check or retry
costs about a second of dag.test()'s loop, which is why runs are shared between tests.

One test is expected to fail on Airflow 3.0 only, naming the engine bug it pins (CHECK_TOO_SOON).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from hymir import Chain, Group, JobState, JobStatus, Map, Workflow, WorkflowState, WorkflowStatus
from tests.jobs import map_parity as mp
from tests.jobs import mapping as mj
from tests.test_parity import is_airflow, run

ON_FINISHED = Workflow.Callbacks.ON_FINISHED
BEHAVE = "tests.jobs.map_parity.behave"

#: Five items: one retries twice, one is checked later twice, one fails, two succeed at once.
FAILING_ITEMS: list[Any] = [
    {"value": "retried", "retries": 2},
    {"value": "checked", "checks": 2},
    {"fail": {"why": "bad item", "code": 7}},
    {"value": "plain"},
    {"value": {"nested": [1, 2.0, None], "text": "größe"}},
]
#: The same items, the failing one succeeding instead.
SUCCEEDING_ITEMS: list[Any] = [*FAILING_ITEMS[:2], {"value": 3}, *FAILING_ITEMS[3:]]
#: What the items of SUCCEEDING_ITEMS succeed with, in item order.
SUCCEEDING_VALUES: list[Any] = ["retried", "checked", 3, "plain", {"nested": [1, 2.0, None], "text": "größe"}]
#: Items for whoami: values of several JSON types (None among them), in an order no sort gives.
WHOAMI_ITEMS: list[Any] = ["b", {"k": [1, 2.5]}, None, 0, "a", [3]]
#: For the ON_FINISHED callbacks: item 0 fails at once, and the last item is checked again three
#: times 2 s apart, well after every other item (and, on Airflow, the consumer) is done: even under
#: Airflow 3.0's dag.test(), which checks a mapped task's items again sooner (see CHECK_TOO_SOON),
#: three more checks take three more passes of its loop.
CALLBACK_ITEMS: list[Any] = [
    {"fail": {"why": "bad item"}},
    {"value": "retried", "retries": 1},
    {"value": "plain"},
    {"value": "late", "checks": 3, "wait": 2},
]
#: What the ON_FINISHED callback of CALLBACK_ITEMS gets: the succeeded items' values, in item order.
CALLBACK_REPORT = {"status": "failure", "results": ["retried", "plain", "late"]}
#: For Map fail_fast: every item is checked later once; item 0 fails at its check at once, while the
#: others wait 3 s for theirs. On both engines each of them has made its first call before item 0
#: fails (dag.test() runs the items one after another), and none makes its second.
FAIL_FAST_ITEMS: list[Any] = [
    {"fail": "first", "checks": 1},
    {"value": "b", "checks": 2, "wait": 3},
    {"value": "c", "checks": 2, "wait": 3},
]


def behave_map(**options: Any) -> Map:
    """``behave`` once per item of 'items', each item filling its parameter ``item``."""
    return Map(mp.behave(), over=("items", "item"), **options)


def items_workflow(
    items: Any, *, consumer: bool = True, callback: bool = True, workflow_fail_fast: bool = False, **options: Any
) -> Workflow:
    """make_items -> behave per item (-> collect), with an ON_FINISHED callback reporting the items' values."""
    workflow = Workflow(
        Chain(mj.make_items(items), behave_map(**options), *([mp.collect()] if consumer else [])),
        fail_fast=workflow_fail_fast,
    )
    return workflow.on(ON_FINISHED, mp.report_results()) if callback else workflow


SCENARIOS: dict[str, Callable[[], Workflow]] = {
    "failing": lambda: items_workflow(FAILING_ITEMS, callback=False),
    "callback_after_failure": lambda: items_workflow(CALLBACK_ITEMS),
    "callback_after_failure_no_consumer": lambda: items_workflow(CALLBACK_ITEMS, consumer=False),
    "succeeding": lambda: items_workflow(SUCCEEDING_ITEMS),
    "empty": lambda: items_workflow([]),
    "whoami": lambda: Workflow(
        Chain(mj.flag(0), mj.make_items(WHOAMI_ITEMS), Map(mp.whoami(), over=("items", "item"), max_active=2))
    ).on(ON_FINISHED, mp.collect()),
    "by_name": lambda: Workflow(Chain(mj.numbers([4, 1, 3]), Map(mj.square(), over="n"), mp.total())),
    "raising": lambda: Workflow(Chain(mj.numbers([2, "x", 3]), Map(mj.square(), over="n"), mp.total())),
    "not_a_list_dict": lambda: items_workflow({"a": 1}),
    "not_a_list_none": lambda: Workflow(Chain(mj.make_nothing(), behave_map(), mp.collect())),
    "fail_fast": lambda: items_workflow(FAIL_FAST_ITEMS, fail_fast=True),
    "workflow_fail_fast": lambda: items_workflow(FAIL_FAST_ITEMS, workflow_fail_fast=True),
}


@dataclass(frozen=True)
class Observed:
    """Everything an engine reports of one finished run."""

    engine: str
    workflow: Workflow
    workflow_id: str
    waited: WorkflowState
    workflow_state: WorkflowState
    states: dict[str, JobState]
    #: Each job's state as job_state(workflow_id, job_id) gives it, asked for alone.
    alone: dict[str, JobState]
    #: job_states(workflow_id, [...]) of a mapped job and its first items, asked for together.
    some: dict[str, JobState]
    outputs: dict[str, list[Any]]
    progress: tuple[int, int]


#: The runs of this module, by (engine, scenario): each scenario runs once per engine.
_OBSERVED: dict[tuple[str, str], Observed] = {}


def engine_of(executor: Any) -> str:
    return "airflow" if is_airflow(executor) else "local"


#: Scenarios whose items must wait their CheckLater: under 3.0's dag.test() they may not (CHECK_TOO_SOON).
TIMED_SCENARIOS = ("fail_fast", "workflow_fail_fast")


def observe(executor: Any, scenario: str) -> Observed:
    """The run of ``scenario`` on the engine of ``executor``: run it there the first time it is asked for."""
    engine = engine_of(executor)
    if engine == "airflow" and scenario in TIMED_SCENARIOS:
        from hymir_airflow import compat

        if compat.AIRFLOW_MINOR == (3, 0):
            pytest.xfail(CHECK_TOO_SOON)
    key = (engine, scenario)
    if key not in _OBSERVED:
        workflow = SCENARIOS[scenario]()
        workflow_id = run(executor, workflow)
        states = executor.job_states(workflow_id)
        some = [job_id for job_id in states if "[" in job_id][:2] + list(workflow.maps)
        _OBSERVED[key] = Observed(
            engine=engine,
            workflow=workflow,
            workflow_id=workflow_id,
            waited=executor.wait(workflow_id, sleep=0.1, timeout=10),
            workflow_state=executor.workflow_state(workflow_id),
            states=states,
            alone={job_id: executor.job_state(workflow_id, job_id) for job_id in states},
            some=executor.job_states(workflow_id, some),
            outputs=executor.outputs(workflow_id),
            progress=executor.progress(workflow_id),
        )
    return _OBSERVED[key]


@pytest.fixture
def local_executor():
    from hymir.clock import VirtualClock
    from hymir.executors.local import LocalExecutor

    with LocalExecutor(clock=VirtualClock()) as executor:
        yield executor


def fields(state: JobState) -> tuple[Any, ...]:
    """A state's fields, in JobState's order: status, retries, checks, context, exception, result."""
    return (state.status, state.retries, state.checks, state.context, state.exception, state.result)


def exception_kind(text: str | None) -> str | None:
    """The part of an exception both engines must agree on: a traceback's last line, else the whole text."""
    if text is None or not text.startswith("Traceback"):
        return text
    return [line for line in text.strip().splitlines() if line.strip()][-1]


def comparable(state: JobState) -> dict[str, Any]:
    """What both engines must report alike of a job: every field, a traceback cut to its last line."""
    return {
        "status": state.status.value,
        "retries": state.retries,
        "checks": state.checks,
        "context": state.context,
        "exception": exception_kind(state.exception),
        "result": state.result,
    }


def item_ids(job_id: str, count: int) -> list[str]:
    return [f"{job_id}[{index}]" for index in range(count)]


# --- five items, one of which fails ----------------------------------------------------------------


def test_each_item_keeps_its_own_retries_checks_context_and_result(executor):
    """Item 2[0] retried twice, 2[1] was checked later twice with its context, 2[3] and 2[4] succeeded at once."""
    states = observe(executor, "failing").states

    assert fields(states["2[0]"]) == (JobStatus.SUCCESS, 2, 0, {}, None, "retried")
    assert fields(states["2[1]"]) == (
        JobStatus.SUCCESS,
        0,
        2,
        {"n": 2, "seen": ["2[1]", "2[1]"]},
        None,
        "checked",
    )
    assert fields(states["2[3]"]) == (JobStatus.SUCCESS, 0, 0, {}, None, "plain")
    assert fields(states["2[4]"]) == (JobStatus.SUCCESS, 0, 0, {}, None, FAILING_ITEMS[4]["value"])
    assert repr(states["2[4]"].result) == repr(FAILING_ITEMS[4]["value"])  # 2.0 stays a float


def test_a_failing_item_keeps_its_failure_value_and_is_named(executor):
    """Item 2[2] returned Failure: FAILURE with the Failure value as result, the exception naming the item."""
    failed = observe(executor, "failing").states["2[2]"]

    assert fields(failed) == (
        JobStatus.FAILURE,
        0,
        0,
        {},
        f"job 2[2] ({BEHAVE}) returned Failure({{'why': 'bad item', 'code': 7}})",
        {"why": "bad item", "code": 7},
    )


def test_a_failed_item_fails_the_mapped_job_and_the_workflow_and_consumers_do_not_run(executor):
    """The mapped job fails naming the failed item, its consumer never runs, and the workflow fails."""
    observed = observe(executor, "failing")
    states = observed.states

    assert list(states) == ["1", "2", "3", *item_ids("2", 5)]
    assert fields(states["1"]) == (JobStatus.SUCCESS, 0, 0, {}, None, FAILING_ITEMS)
    assert fields(states["2"]) == (
        JobStatus.FAILURE,
        0,
        0,
        {},
        f"job 2 ({BEHAVE}): 1 of its 5 items did not succeed: 2[2]",
        None,
    )
    assert fields(states["3"]) == (JobStatus.PENDING, 0, 0, {}, None, None)
    assert observed.waited.status is WorkflowStatus.FAILURE
    assert observed.workflow_state.status is WorkflowStatus.FAILURE
    assert observed.progress == (2, 3)


def test_outputs_hold_the_succeeded_items_values_in_item_order(executor):
    """outputs() gives the mapped output as the values of the items that succeeded, in item order; no 'collected'."""
    outputs = observe(executor, "failing").outputs

    assert outputs == {
        "items": [FAILING_ITEMS],
        "results": ["retried", "checked", "plain", FAILING_ITEMS[4]["value"]],
    }


def test_an_on_finished_callback_gets_the_succeeded_items_values(executor):
    """An ON_FINISHED callback consuming the mapped output after one item failed gets the others' values, in order.

    It runs once every job and item is over, as the LocalExecutor runs it: the item checked again
    three times is among its values. The consumer of the mapped output never ran.
    """
    observed = observe(executor, "callback_after_failure")
    states = observed.states

    assert list(states) == ["1", "2", "3", "4", *item_ids("2", 4)]
    assert states["2"].exception == f"job 2 ({BEHAVE}): 1 of its 4 items did not succeed: 2[0]"
    assert states["3"].status is JobStatus.PENDING
    assert fields(states["4"]) == (JobStatus.SUCCESS, 0, 0, {}, None, CALLBACK_REPORT)


def test_an_on_finished_callback_after_a_mapped_leaf_gets_the_succeeded_items_values(executor):
    """With the mapped job last in the workflow, the callback after one item failed gets the others' values."""
    observed = observe(executor, "callback_after_failure_no_consumer")
    states = observed.states

    assert list(states) == ["1", "2", "3", *item_ids("2", 4)]
    assert states["2"].exception == f"job 2 ({BEHAVE}): 1 of its 4 items did not succeed: 2[0]"
    assert fields(states["3"]) == (JobStatus.SUCCESS, 0, 0, {}, None, CALLBACK_REPORT)
    assert fields(states["2[3]"]) == (JobStatus.SUCCESS, 0, 3, {"n": 3, "seen": ["2[3]"] * 3}, None, "late")
    assert observed.workflow_state.status is WorkflowStatus.FAILURE


# --- the same five items, none failing ------------------------------------------------------------


def test_without_a_failing_item_the_consumer_gets_every_value_in_item_order(executor):
    """Items that finish out of order (2[0] and 2[1] last) reach the consumer and outputs() in item order."""
    observed = observe(executor, "succeeding")
    states = observed.states

    assert observed.workflow_state.status is WorkflowStatus.SUCCESS
    assert [states[i].status for i in item_ids("2", 5)] == [JobStatus.SUCCESS] * 5
    assert [(states[i].retries, states[i].checks) for i in item_ids("2", 5)] == [(2, 0), (0, 2), (0, 0), (0, 0), (0, 0)]
    assert fields(states["2"]) == (JobStatus.SUCCESS, 0, 0, {}, None, SUCCEEDING_VALUES)
    assert fields(states["3"]) == (JobStatus.SUCCESS, 0, 0, {}, None, SUCCEEDING_VALUES)
    assert states["4"].result == {"status": "success", "results": SUCCEEDING_VALUES}
    assert observed.outputs == {
        "items": [SUCCEEDING_ITEMS],
        "results": SUCCEEDING_VALUES,
        "collected": [SUCCEEDING_VALUES],
    }
    assert observed.progress == (3, 3)


# --- no item at all -------------------------------------------------------------------------------


def test_an_empty_map_has_no_item_succeeds_with_an_empty_list_and_consumers_get_it(executor):
    """An empty list: no item, the mapped job SUCCESS with [], its consumer and the callback get []."""
    observed = observe(executor, "empty")
    states = observed.states

    assert list(states) == ["1", "2", "3", "4"]
    assert fields(states["1"]) == (JobStatus.SUCCESS, 0, 0, {}, None, [])
    assert fields(states["2"]) == (JobStatus.SUCCESS, 0, 0, {}, None, [])
    assert fields(states["3"]) == (JobStatus.SUCCESS, 0, 0, {}, None, [])
    assert fields(states["4"]) == (JobStatus.SUCCESS, 0, 0, {}, None, {"status": "success", "results": []})
    assert observed.workflow_state.status is WorkflowStatus.SUCCESS
    assert observed.outputs == {
        "items": [[]],
        "results": [],
        "collected": [[]],
    }
    assert observed.progress == (3, 3)


# --- identities, max_active, a Map over an output by its name --------------------------------------


def test_each_item_gets_its_own_id_as_job_id_and_its_own_item_under_max_active(executor):
    """With max_active=2 every item still runs once; its job_id input is its item id, "3[n]", and it gets its item."""
    observed = observe(executor, "whoami")
    states = observed.states
    expected = [
        {"job_id": f"3[{index}]", "item": item, "retries": 0, "checks": 0} for index, item in enumerate(WHOAMI_ITEMS)
    ]

    assert observed.workflow_state.status is WorkflowStatus.SUCCESS
    assert list(states) == ["1", "2", "3", "4", *item_ids("3", len(WHOAMI_ITEMS))]
    assert [fields(states[i]) for i in item_ids("3", len(WHOAMI_ITEMS))] == [
        (JobStatus.SUCCESS, 0, 0, {}, None, value) for value in expected
    ]
    assert states["3"].result == expected
    assert states["4"].result == expected  # the ON_FINISHED collect
    assert observed.outputs == {"flag": [0], "items": [WHOAMI_ITEMS], "results": expected}


def test_a_map_over_an_output_by_name_fills_the_parameter_of_that_name(executor):
    """``over="n"``: each item of 'n' goes to parameter n; the consumer gets the squares in item order."""
    observed = observe(executor, "by_name")
    states = observed.states

    assert observed.workflow_state.status is WorkflowStatus.SUCCESS
    assert [fields(states[i]) for i in item_ids("2", 3)] == [
        (JobStatus.SUCCESS, 0, 0, {}, None, value) for value in (16, 1, 9)
    ]
    assert fields(states["2"]) == (JobStatus.SUCCESS, 0, 0, {}, None, [16, 1, 9])
    assert observed.outputs == {"n": [[4, 1, 3]], "squares": [16, 1, 9], "total": [{"sum": 26, "squares": [16, 1, 9]}]}


def test_an_item_that_raises_fails_alone_with_its_traceback(executor):
    """An item whose function raises fails with the traceback; the others succeed; the mapped job names it."""
    observed = observe(executor, "raising")
    states = observed.states

    raised = states["2[1]"]
    assert (raised.status, raised.retries, raised.checks, raised.context, raised.result) == (
        JobStatus.FAILURE,
        0,
        0,
        {},
        None,
    )
    assert raised.exception is not None and raised.exception.startswith("Traceback"), raised.exception
    assert exception_kind(raised.exception) == "TypeError: can't multiply sequence by non-int of type 'str'"
    assert [states[i].status for i in ("2[0]", "2[2]")] == [JobStatus.SUCCESS] * 2
    assert states["2"].exception == "job 2 (tests.jobs.mapping.square): 1 of its 3 items did not succeed: 2[1]"
    assert states["3"].status is JobStatus.PENDING
    assert observed.outputs == {"n": [[2, "x", 3]], "squares": [4, 9]}
    assert observed.workflow_state.status is WorkflowStatus.FAILURE


# --- a producer whose value is not a list ---------------------------------------------------------


@pytest.mark.parametrize("scenario, kind", [("not_a_list_dict", "dict"), ("not_a_list_none", "NoneType")])
def test_a_producer_whose_value_is_not_a_list_fails_and_the_map_never_expands(executor, scenario, kind):
    """The producer fails naming its output, the Map and the type; the mapped job has no item and never starts."""
    observed = observe(executor, scenario)
    states = observed.states
    function = "make_items" if kind == "dict" else "make_nothing"

    assert set(states) <= {"1", "2", "3", "4"}
    assert sorted(states) == sorted([*observed.workflow.jobs, *observed.workflow.callback_ids()])
    assert fields(states["1"]) == (
        JobStatus.FAILURE,
        0,
        0,
        {},
        f"InvalidJobReturn: job 1 (tests.jobs.mapping.{function}): output 'items' is mapped over by job 2 "
        f"({BEHAVE}), so it must be a list, not a {kind}",
        None,
    )
    assert fields(states["2"]) == (JobStatus.PENDING, 0, 0, {}, None, None)
    assert fields(states["3"]) == (JobStatus.PENDING, 0, 0, {}, None, None)
    assert observed.outputs == {}
    assert observed.workflow_state.status is WorkflowStatus.FAILURE


# --- Map fail_fast --------------------------------------------------------------------------------


def test_map_fail_fast_stops_the_items_that_would_check_again(executor):
    """Item 0 fails at its first check; items 1 and 2 would be checked again after it: both end failed as stopped."""
    observed = observe(executor, "fail_fast")
    states = observed.states

    assert fields(states["2[0]"]) == (
        JobStatus.FAILURE,
        0,
        1,
        {"n": 1, "seen": ["2[0]"]},
        f"job 2[0] ({BEHAVE}) returned Failure('first')",
        "first",
    )
    for stopped in ("2[1]", "2[2]"):
        assert fields(states[stopped]) == (
            JobStatus.FAILURE,
            0,
            1,
            {"n": 1, "seen": [stopped]},
            "stopped: item 2[0] failed and the Map is fail_fast",
            None,
        )
    assert states["2"].exception == f"job 2 ({BEHAVE}): 3 of its 3 items did not succeed: 2[0], 2[1], 2[2]"
    assert states["3"].status is JobStatus.PENDING
    assert states["4"].result == {"status": "failure", "results": []}
    assert observed.outputs == {"items": [FAIL_FAST_ITEMS]}  # no item succeeded: no value of 'results'

    assert observed.workflow_state.status is WorkflowStatus.FAILURE


def test_a_fail_fast_workflow_checks_no_item_again_after_one_failed(executor):
    """Workflow fail_fast: after item 0 fails, items 1 and 2, waiting for their next check, never run again."""
    observed = observe(executor, "workflow_fail_fast")
    states = observed.states

    assert states["2[0]"].status is JobStatus.FAILURE
    for waiting in ("2[1]", "2[2]"):
        state = states[waiting]
        assert (state.status, state.checks, state.context) == (JobStatus.PENDING, 1, {"n": 1, "seen": [waiting]})
    assert states["2"].status is JobStatus.FAILURE
    assert states["3"].status is JobStatus.PENDING
    assert states["4"].result == {"status": "failure", "results": []}
    assert observed.workflow_state.status is WorkflowStatus.FAILURE


# --- how long a check of an item waits, on Airflow ---------------------------------------------

#: Why an item's CheckLater wait is cut short under Airflow 3.0.
CHECK_TOO_SOON = (
    "Airflow 3.0: a mapped task (airflow.sdk MappedOperator) has no `reschedule` attribute and its deps lack "
    "ReadyToRescheduleDep, so ReadyToRescheduleDep (airflow/ti_deps/deps/ready_to_reschedule.py, which tests "
    "isinstance(ti.task, airflow.models.mappedoperator.MappedOperator)) passes at once: an item that returned "
    "CheckLater(wait_for=s) is checked again at the next pass of dag.test()'s loop (about a second), not s seconds on"
)


@pytest.mark.airflow
def test_an_items_check_later_wait_is_honoured_on_airflow(airflow_executor, request):
    """On Airflow an item checked later waits its CheckLater's wait_for before its next check, as a plain job does.

    (On the LocalExecutor the wait is virtual; tests/test_map.py checks it on the VirtualClock.)
    """
    from hymir_airflow import compat

    if compat.AIRFLOW_MINOR == (3, 0):
        request.applymarker(pytest.mark.xfail(strict=False, reason=CHECK_TOO_SOON))
    wait = 3
    workflow = Workflow(
        Group(Chain(mj.numbers([wait, wait]), Map(mp.timed_check(), over=("n", "wait"))), mp.timed_check(wait))
    )
    workflow_id = run(airflow_executor, workflow)
    states = airflow_executor.job_states(workflow_id)

    assert [states[job_id].status for job_id in ("2[0]", "2[1]", "3")] == [JobStatus.SUCCESS] * 3
    assert states["3"].result >= wait - 0.1, f"the plain job was checked again after {states['3'].result:.2f} s"
    for item in ("2[0]", "2[1]"):
        assert states[item].result >= wait - 0.1, f"item {item} was checked again after {states[item].result:.2f} s"


# --- every scenario -------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_job_asked_for_alone_has_the_state_it_has_among_all(executor, scenario):
    """job_state(id, job) (for an item, and for a mapped job read from its items) equals job_states(id)[job]."""
    observed = observe(executor, scenario)

    for job_id, state in observed.states.items():
        assert observed.alone[job_id] == state, job_id
    assert observed.some == {job_id: observed.states[job_id] for job_id in observed.some}
    assert set(observed.workflow.maps) <= set(observed.some)


@pytest.mark.airflow
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_both_engines_report_the_same(local_executor, airflow_executor, scenario):
    """The same run on both engines: the same workflow status, jobs and items (every field), outputs and progress."""
    local = observe(local_executor, scenario)
    airflow = observe(airflow_executor, scenario)

    assert airflow.waited.status is local.waited.status
    assert airflow.workflow_state.status is local.workflow_state.status
    assert list(airflow.states) == list(local.states)
    for job_id, state in local.states.items():
        assert repr(comparable(airflow.states[job_id])) == repr(comparable(state)), (
            f"job {job_id} differs\n  local:   {comparable(state)!r}\n  airflow: {comparable(airflow.states[job_id])!r}"
        )
    assert repr(airflow.outputs) == repr(local.outputs)
    assert airflow.progress == local.progress
