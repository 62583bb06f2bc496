"""Units, one semantics on two engines: a Chain or Group run as one step and retried as a whole.

Each scenario runs once per engine and module: the LocalExecutor on a VirtualClock, and the
session's in-process AirflowExecutor (dag.test(), where a unit is one HymirUnitOperator task).
Tests parametrized over ``executor`` check what a user sees on each engine against what a unit
means (calls, states, outputs, the callback's view); ``test_both_engines_report_the_same`` then
compares the engines' reports field by field, a traceback cut to its last line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hymir import Chain, Group, InvalidWorkflow, JobState, JobStatus, Map, Unit, Workflow, WorkflowStatus
from tests.jobs import mapping as mj
from tests.jobs import units as uj
from tests.test_map_parity import comparable, engine_of, exception_kind
from tests.test_parity import run

ON_FINISHED = Workflow.Callbacks.ON_FINISHED


def chain_retried(token: str) -> Workflow:
    """start -> Unit(a -> b -> c, where c fails its first call; one retry) -> finish."""
    unit = Unit(Chain(uj.step(token, "a"), uj.step(token, "b"), uj.join_steps(token, "c", fails=1)), retries=1)
    return Workflow(Chain(uj.step(token, "start"), unit, uj.finish()))


def group_retried(token: str) -> Workflow:
    """start -> Unit(a ‖ b, where b fails its first call; two retries allowed) -> gather every step's value."""
    unit = Unit(Group(uj.step(token, "a"), uj.step(token, "b", fails=1)), retries=2)
    return Workflow(Chain(uj.step(token, "start"), unit, uj.gather()))


def waiting(token: str) -> Workflow:
    """Unit(a -> w checked later twice -> r retried once -> c joining them) -> finish."""
    unit = Unit(
        Chain(
            uj.step(token, "a"),
            uj.waiting_step(token, "w", 2),
            uj.retrying_step(token, "r", 1),
            uj.join_steps(token, "c"),
        )
    )
    return Workflow(Chain(unit, uj.finish()))


def out_of_retries(token: str) -> Workflow:
    """start -> Unit(a -> x raising -> b; one retry) -> gather, and an ON_FINISHED callback gathering too."""
    unit = Unit(Chain(uj.step(token, "a"), uj.raising_step(token, "x"), uj.step(token, "b")), retries=1)
    return Workflow(Chain(uj.step(token, "start"), unit, uj.gather())).on(ON_FINISHED, uj.gather())


SCENARIOS: dict[str, Callable[[str], Workflow]] = {
    "chain_retried": chain_retried,
    "group_retried": group_retried,
    "waiting": waiting,
    "out_of_retries": out_of_retries,
}

#: The runs of this module, by (engine, scenario): what the engine reported, and the calls made.
_OBSERVED: dict[tuple[str, str], dict[str, Any]] = {}


def observe(executor: Any, scenario: str) -> dict[str, Any]:
    """The run of ``scenario`` on the engine of ``executor``: run it there the first time it is asked for."""
    engine = engine_of(executor)
    key = (engine, scenario)
    if key not in _OBSERVED:
        token = f"{scenario}-{engine}"
        workflow_id = run(executor, SCENARIOS[scenario](token))
        _OBSERVED[key] = {
            "status": executor.workflow_state(workflow_id).status,
            "states": executor.job_states(workflow_id),
            "outputs": executor.outputs(workflow_id),
            "calls": list(uj.CALLS.pop(token, [])),
        }
    return _OBSERVED[key]


def test_a_chain_unit_is_retried_from_its_first_member(executor):
    """The third member fails once: the unit retries, its first two members run again, and the consumer
    outside gets the second try's values (and the outside producer's, which ran once)."""
    seen = observe(executor, "chain_retried")
    assert seen["status"] is WorkflowStatus.SUCCESS
    assert seen["calls"] == ["start", "a", "b", "c", "a", "b", "c"]
    states = seen["states"]
    assert states["unit_1"] == JobState(status=JobStatus.SUCCESS, retries=1)
    assert [states[m].result for m in ("2", "3", "4")] == ["a#2", "b#2", "start#1+a#2+b#2"]
    assert all(states[m].retries == 0 and states[m].status is JobStatus.SUCCESS for m in ("2", "3", "4"))
    assert seen["outputs"] == {
        "steps": ["start#1", "a#2", "b#2"],
        "joined": ["start#1+a#2+b#2"],
        "result": ["start#1+a#2+b#2"],
    }


def test_a_group_unit_runs_its_members_in_order_and_again_after_a_failure(executor):
    """A Group's members run one after another in a unit; the failed try's successes are run again too."""
    seen = observe(executor, "group_retried")
    assert seen["calls"] == ["start", "a", "b", "a", "b"]
    assert seen["states"]["unit_1"].retries == 1
    assert seen["outputs"]["result"] == [["start#1", "a#2", "b#2"]]


def test_a_unit_waits_for_a_member_that_checks_later_or_retries_and_resumes_there(executor):
    """A member's CheckLater or Retry pauses the unit; it resumes at that member, the members before it kept."""
    seen = observe(executor, "waiting")
    assert seen["status"] is WorkflowStatus.SUCCESS
    assert seen["calls"] == ["a", "w", "w", "w", "r", "r", "c"]
    states = seen["states"]
    assert states["unit_1"] == JobState(status=JobStatus.SUCCESS, checks=3)
    assert (states["2"].checks, states["2"].context, states["2"].result) == (2, {"seen": 2}, "w after {'seen': 2}")
    assert (states["3"].retries, states["3"].result) == (1, "r after 1 retries")
    assert states["4"].result == "a#1+w after {'seen': 2}+r after 1 retries"
    assert seen["outputs"]["result"] == [states["4"].result]


def test_a_unit_out_of_retries_fails_and_keeps_its_last_try(executor):
    """A member raising in every try: the unit fails once its retry is spent, naming the member; the members
    after it never ran, the consumer outside neither, and ON_FINISHED gets the values of the last try."""
    seen = observe(executor, "out_of_retries")
    assert seen["status"] is WorkflowStatus.FAILURE
    assert seen["calls"] == ["start", "a", "x", "a", "x"]
    states = seen["states"]
    assert states["unit_1"].status is JobStatus.FAILURE
    assert states["unit_1"].retries == 1
    assert states["unit_1"].exception == (
        "unit_1: job 3 (tests.jobs.units.raising_step) failed: ValueError: x cannot go on; "
        "the unit has no retry left (retries=1)"
    )
    assert (states["2"].status, states["2"].result) == (JobStatus.SUCCESS, "a#2")
    assert states["3"].status is JobStatus.FAILURE
    assert exception_kind(states["3"].exception) == "ValueError: x cannot go on"
    assert states["4"] == JobState() and states["5"] == JobState()
    assert states["6"].result == ["start#1", "a#2"], "the callback reads the steps that succeeded"


def test_a_member_gets_its_own_copy_of_another_members_value(executor):
    """A member that changes the list it got changes no value its producer recorded or later members read."""
    token = f"copy-{engine_of(executor)}"
    unit = Unit(Chain(uj.listing(token, "made"), uj.mutate(), uj.gather()))
    workflow_id = run(executor, Workflow(unit))
    uj.CALLS.pop(token, None)
    assert executor.outputs(workflow_id) == {
        "steps": [["made"]],
        "mutated": [["made", "extra"]],
        "result": [[["made"]]],
    }


def test_each_member_gets_its_own_copy_of_the_runs_params(executor):
    """A member that changes a param in place changes nothing another member gets."""
    workflow = Workflow(Unit(Chain(uj.change_param(), uj.read_param())), params={"settings": {"a": 1}})
    workflow_id = run(executor, workflow)
    assert executor.outputs(workflow_id)["seen"] == [{"a": 1}]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_both_engines_report_the_same(scenario, local_executor, airflow_executor):
    """Every state (members, the unit, jobs outside, callbacks) and every output alike on both engines."""
    local, airflow = observe(local_executor, scenario), observe(airflow_executor, scenario)
    assert airflow["status"] is local["status"]
    assert airflow["calls"] == local["calls"]
    assert {k: comparable(s) for k, s in airflow["states"].items()} == {
        k: comparable(s) for k, s in local["states"].items()
    }
    assert airflow["outputs"] == local["outputs"]


@pytest.fixture
def local_executor():
    from hymir.clock import VirtualClock
    from hymir.executors.local import LocalExecutor

    with LocalExecutor(clock=VirtualClock()) as executor:
        yield executor


# --- what a unit may hold ---------------------------------------------------------------------------


def test_a_unit_holding_a_map_is_refused_naming_the_job():
    with pytest.raises(InvalidWorkflow, match=r"unit_1: job 2 \(tests.jobs.mapping.square\) is mapped"):
        Workflow(Chain(mj.numbers([1]), Unit(Chain(Map(mj.square(), over="n"), mj.total()))))


def test_a_unit_inside_a_unit_is_refused():
    with pytest.raises(InvalidWorkflow, match=r"is in unit_1 and unit_2: a Unit cannot hold another Unit"):
        Workflow(Unit(Chain(uj.step("t", "a"), Unit(Chain(uj.step("t", "b"))))))


def test_a_map_over_a_members_output_is_refused():
    with pytest.raises(InvalidWorkflow, match=r"a Map cannot go over a Unit member's output"):
        Workflow(Chain(Unit(Chain(mj.numbers([1]))), Map(mj.square(), over="n")))


def test_a_member_with_airflow_settings_is_refused():
    with pytest.raises(InvalidWorkflow, match=r"job 1 \(tests.jobs.units.step\) sets meta\['airflow'\]"):
        Workflow(Unit(Chain(uj.step("t", "a").with_meta(airflow={"pool": "p"}))))


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"retries": -1}, "retries must be a whole number"),
        ({"retries": True}, "retries must be a whole number"),
        ({"retry_delay": "5"}, "retry_delay must be seconds"),
    ],
)
def test_bad_unit_settings_are_refused(bad, message):
    with pytest.raises(InvalidWorkflow, match=message):
        Unit(Chain(uj.step("t", "a")), **bad)


def test_a_unit_holds_a_chain_or_group_only():
    with pytest.raises(InvalidWorkflow, match="holds a Chain or Group"):
        Unit(uj.step("t", "a"))


def test_a_workflow_with_units_round_trips_through_serialize():
    workflow = group_retried("t")
    restored = Workflow.deserialize(workflow.serialize(), allowed_modules=["tests.jobs"])
    assert restored == workflow
    assert restored.units["unit_1"].members == ("2", "3")
    assert restored.units["unit_1"].retries == 2
    assert restored.unit_of("3") == "unit_1" and restored.unit_of("1") is None


def test_a_pass_stops_at_the_next_member_once_the_run_is_stopped():
    """The runner asks before each member whether a fail_fast run stopped: that member fails as stopped."""
    from hymir.decision import Verdict
    from hymir.units import run_unit_pass

    workflow = Workflow(Unit(Chain(uj.step("stop", "a"), uj.step("stop", "b"), uj.step("stop", "c"))))
    asked = iter([False, True])
    states, outcome = run_unit_pass(
        workflow,
        "unit_1",
        {},
        0,
        values_of=lambda binding: [],
        provided=lambda job_id, state: {},
        log=lambda line: None,
        stopped=lambda: next(asked),
    )
    assert uj.CALLS.pop("stop") == ["a"]
    assert outcome.verdict is Verdict.FAILED and outcome.reason.startswith("stopped")
    assert [states[m].status for m in ("1", "2", "3")] == [JobStatus.SUCCESS, JobStatus.FAILURE, JobStatus.PENDING]


@pytest.mark.parametrize(
    "units, message",
    [
        ({"unit_x": {"members": ["2", "3"], "retries": 0, "retry_delay": 0}}, "object of unit ids"),
        ({"unit_1~2": {"members": ["2", "3"], "retries": 0, "retry_delay": 0}}, "object of unit ids"),
        ({"unit_1": {"members": ["2"], "retries": 0, "retry_delay": 0}}, "not the jobs of one Chain or Group"),
        ({"unit_1": {"members": ["1", "2"], "retries": 0, "retry_delay": 0}}, "not the jobs of one Chain or Group"),
    ],
    ids=["bad-id", "separator-in-id", "part-of-a-chain", "across-containers"],
)
def test_serialized_units_must_name_one_chain_or_group(units, message):
    data = group_retried("t").to_dict()
    data["units"] = units
    with pytest.raises(InvalidWorkflow, match=message):
        Workflow.deserialize(data, allowed_modules=["tests.jobs"])


def test_a_serialized_unit_with_an_outside_job_between_its_members_is_refused():
    """Edges that put an outside job between two members would split the unit's one step: refused, naming the job."""
    workflow = Workflow(Chain(Unit(Group(uj.step("t", "a"), uj.step("t", "b"))), uj.side("t", "x")))
    data = workflow.to_dict()
    data["edges"] = [["1", "3"], ["3", "2"]]
    with pytest.raises(InvalidWorkflow, match=r"job 3 \(tests.jobs.units.side\) runs after a member of unit_1"):
        Workflow.deserialize(data, allowed_modules=["tests.jobs"])
