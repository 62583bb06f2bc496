"""Map: a job run once per item of another job's list output, checked when built, run by the LocalExecutor.

Runs are on virtual time (``VirtualClock``): no test sleeps through a Retry or CheckLater wait; the
only real waits are the few hundredths of a second the concurrency tests hold their items for.
"""

from __future__ import annotations

import json
import random
import uuid

import pytest

from hymir import (
    Chain,
    Group,
    InvalidWorkflow,
    JobStatus,
    Map,
    Workflow,
    WorkflowState,
    WorkflowStatus,
)
from hymir.clock import VirtualClock
from hymir.executors.local import LocalExecutor
from hymir.mapping import DEFAULT_MAX_LENGTH, item_id, split_item_id
from tests.jobs import mapping as jobs_mapping
from tests.jobs.mapping import (
    behave,
    collect,
    crowd,
    first_square,
    flag,
    make_items,
    make_items_too,
    make_nothing,
    numbers,
    report_results,
    square,
    takes_anything,
    takes_item,
    total,
    whoami,
)

ON_FINISHED = Workflow.Callbacks.ON_FINISHED
SEED = 1234
#: Generous real-time bound for a run; on virtual time every run here takes milliseconds.
TIMEOUT = 5
BEHAVE = "tests.jobs.mapping.behave"
ALLOWED = ["tests"]


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def local_executor(clock):
    with LocalExecutor(clock=clock, rng=random.Random(SEED)) as executor:
        yield executor


@pytest.fixture
def token(clock) -> str:
    """A name for this test's shared state in tests.jobs.mapping, with the virtual clock registered under it."""
    name = uuid.uuid4().hex
    jobs_mapping.CLOCKS[name] = clock
    yield name
    jobs_mapping.forget(name)


def run_to_end(local_executor: LocalExecutor, workflow: Workflow) -> tuple[str, WorkflowState]:
    workflow_id = local_executor.run(workflow)
    return workflow_id, local_executor.wait(workflow_id, timeout=TIMEOUT)


def mapped_behave(token: str, **options) -> Map:
    """``behave`` run once per item of 'items', each item filling its parameter ``item``."""
    return Map(behave(token), over=("items", "item"), **options)


def calls_of(token: str, job_id: str) -> list[dict]:
    return [call for call in jobs_mapping.CALLS[token] if call["job_id"] == job_id]


# --- build-time validation --------------------------------------------------------------------------


def refusal(build) -> str:
    with pytest.raises(InvalidWorkflow) as caught:
        build()
    return str(caught.value)


def test_map_over_an_output_nobody_produces_is_refused():
    """A Map over an output no job produces is refused, naming the mapped job and the output."""
    message = refusal(lambda: Workflow(Chain(flag(1), mapped_behave("t"))))
    assert f"job 2 ({BEHAVE}): Map over 'items' (parameter 'item')" in message
    assert "no job produces it" in message


def test_map_alone_as_the_root_is_refused():
    """A workflow that is nothing but a Map has no producer for its list, and is refused."""
    message = refusal(lambda: Workflow(mapped_behave("t")))
    assert f"job 1 ({BEHAVE}): Map over 'items'" in message and "no job produces it" in message


@pytest.mark.parametrize(
    "build, mapped, producer",
    [
        (lambda: Group(make_items([1]), mapped_behave("t")), "2", "1"),
        (lambda: Chain(mapped_behave("t"), make_items([1])), "1", "2"),
        (lambda: Chain(flag(0), Group(mapped_behave("t"), make_items([1]))), "2", "3"),
    ],
    ids=["group-beside", "chain-after", "group-after-chain"],
)
def test_map_over_an_output_produced_by_a_job_that_does_not_run_before_it_is_refused(build, mapped, producer):
    """A Map over a list whose producer runs beside it or after it is refused, naming both jobs and the output."""
    message = refusal(lambda: Workflow(build()))
    assert f"job {mapped} ({BEHAVE}): input 'items'" in message
    assert f"its producer job {producer} (tests.jobs.mapping.make_items) does not run before it" in message


def test_map_over_its_own_output_is_refused():
    """A mapped job cannot go over the list it produces itself."""
    message = refusal(lambda: Workflow(Map(make_items([1]), over=("items", "values"))))
    assert "job 1 (tests.jobs.mapping.make_items): input 'items'" in message
    assert "does not run before it" in message


def test_map_over_an_output_of_two_producers_is_refused():
    """A Map goes over one job's list: an output with two producers is refused, naming both."""
    message = refusal(lambda: Workflow(Chain(Group(make_items([1]), make_items_too([2])), mapped_behave("t"))))
    assert f"job 3 ({BEHAVE}): Map over 'items' (parameter 'item')" in message
    assert "it has 2 producers (jobs 1, 2)" in message


@pytest.mark.parametrize("output", ["size", "workflow_id", "job_state"])
def test_map_over_a_param_or_reserved_input_is_refused(output):
    """A Map over a workflow param or a reserved input is refused: it goes over a job's output."""
    message = refusal(
        lambda: Workflow(Chain(flag(1), Map(takes_item(), over=(output, "item"))), params={"size": [1, 2]})
    )
    assert f"job 2 (tests.jobs.mapping.takes_item): Map over {output!r} (parameter 'item')" in message
    assert "is a param or reserved input" in message


def test_map_over_a_mapped_jobs_output_is_refused():
    """A Map cannot go over another mapped job's output (one value per item, not one list)."""
    message = refusal(
        lambda: Workflow(Chain(numbers([1, 2]), Map(square(), over="n"), Map(takes_item(), over=("squares", "item"))))
    )
    assert "job 3 (tests.jobs.mapping.takes_item): Map over 'squares' (parameter 'item')" in message
    assert "its producer, job 2, is mapped too" in message


def test_map_onto_a_parameter_the_function_lacks_is_refused():
    """The parameter a Map fills must be one of the function's, and the message shows the signature."""
    message = refusal(lambda: Workflow(Chain(make_items([1]), Map(square(), over=("items", "x")))))
    assert "job 2 (tests.jobs.mapping.square): Map over 'items' (parameter 'x')" in message
    assert "the function square(n: int) has no parameter 'x'" in message


def test_map_onto_any_parameter_of_a_function_taking_keywords_is_accepted():
    """A function with **kwargs accepts the item under any parameter name."""
    workflow = Workflow(Chain(make_items([1]), Map(takes_anything(), over=("items", "whatever"))))
    assert workflow.maps["2"].parameter == "whatever"


@pytest.mark.parametrize(
    "mapped",
    [
        lambda: takes_item(item=3),
        lambda: takes_item().with_inputs(("flag", "item")),
    ],
    ids=["kwarg", "other-input"],
)
def test_the_item_parameter_given_also_as_an_argument_or_input_is_refused(mapped):
    """The parameter a Map fills cannot also be filled by a keyword argument or another input."""
    message = refusal(lambda: Workflow(Chain(Group(make_items([1]), flag(2)), Map(mapped(), over=("items", "item")))))
    assert "job 3 (tests.jobs.mapping.takes_item): Map over 'items' (parameter 'item')" in message
    assert "parameter 'item' is also given as an argument or another input" in message


def test_a_consumer_of_a_mapped_output_taking_one_value_is_refused():
    """A consumer of a mapped job's output must take a list: its parameter annotated with one value is refused."""
    message = refusal(lambda: Workflow(Chain(numbers([1]), Map(square(), over="n"), first_square())))
    assert "job 3 (tests.jobs.mapping.first_square): input 'squares'" in message
    assert "job 2 is mapped" in message and "annotate it as list[...]" in message


def test_a_callback_consuming_a_mapped_output_with_one_value_is_refused():
    """An ON_FINISHED callback of a mapped output must take a list, like any consumer."""
    workflow = Workflow(Chain(numbers([1]), Map(square(), over="n")))
    with pytest.raises(InvalidWorkflow, match=r"first_square\): input 'squares': job 2 is mapped"):
        workflow.on(ON_FINISHED, first_square())


def test_every_problem_is_listed_at_once():
    """Problems of several mapped jobs are all reported in one InvalidWorkflow."""
    with pytest.raises(InvalidWorkflow) as caught:
        Workflow(Chain(flag(1), Group(Map(square(), over="n"), Map(takes_item(item=1), over=("flag", "item")))))
    problems = caught.value.problems
    assert len(problems) == 2
    assert "job 2 (tests.jobs.mapping.square): Map over 'n'" in problems[0]
    assert "job 3 (tests.jobs.mapping.takes_item): Map over 'flag'" in problems[1]


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"max_active": 0}, "max_active must be a whole number of 1 or more, not 0"),
        ({"max_active": -3}, "max_active must be a whole number of 1 or more, not -3"),
        ({"max_active": True}, "max_active must be a whole number of 1 or more, not True"),
        ({"max_active": 1.5}, "max_active must be a whole number of 1 or more, not 1.5"),
        ({"fail_fast": "yes"}, "fail_fast must be True or False, not 'yes'"),
        ({"fail_fast": 1}, "fail_fast must be True or False, not 1"),
        ({"max_length": -1}, "max_length must be a whole number of 0 or more, not -1"),
        ({"max_length": "5"}, "max_length must be a whole number of 0 or more, not '5'"),
        ({"max_length": None}, "max_length must be a whole number of 0 or more, not None"),
    ],
)
def test_bad_map_options_are_refused(options, expected):
    """Each bad Map option is refused when the Map is made, naming the job's function and the option."""
    with pytest.raises(InvalidWorkflow) as caught:
        Map(takes_item(), over="item", **options)
    message = str(caught.value)
    assert message.startswith("Map of job None (tests.jobs.mapping.takes_item): ")
    assert message.endswith(expected)


@pytest.mark.parametrize("over", [["items", "item"], ("items",), ("items", "item", "x"), ("items", 3), 3, None, {}])
def test_malformed_over_is_refused(over):
    """``over`` is an output name or an (output, parameter) tuple of strings; anything else is refused."""
    with pytest.raises(InvalidWorkflow) as caught:
        Map(takes_item(), over=over)
    message = str(caught.value)
    assert message.startswith(f"Map of job None (tests.jobs.mapping.takes_item): over={over!r}: ")
    assert "an input is an output name or an (output_name, parameter_name) pair of strings" in message


@pytest.mark.parametrize(
    "job, shown",
    [
        (takes_item, "<job tests.jobs.mapping.takes_item> (JobFunction)"),
        ("tests.jobs.mapping.takes_item", "'tests.jobs.mapping.takes_item' (str)"),
        (None, "None (NoneType)"),
        (Chain(takes_item()), "(Chain)"),
    ],
    ids=["job-function", "str", "none", "chain"],
)
def test_a_map_of_something_other_than_a_job_is_refused(job, shown):
    """Map maps a Job: a @job function not called, a name, None or a Chain is refused."""
    with pytest.raises(InvalidWorkflow, match=r"^Map\(\.\.\.\) maps a Job, not ") as caught:
        Map(job, over="item")
    assert str(caught.value).endswith(shown)


def test_map_defaults_and_accessors():
    """A Map's defaults, and its output and parameter for both forms of ``over``."""
    by_name = Map(square(), over="n")
    assert (by_name.output, by_name.parameter) == ("n", "n")
    assert (by_name.max_active, by_name.fail_fast, by_name.max_length) == (None, False, DEFAULT_MAX_LENGTH)
    assert DEFAULT_MAX_LENGTH == 1024  # Airflow's own default max_map_length
    renamed = Map(takes_item(), over=("items", "item"), max_length=0)
    assert (renamed.output, renamed.parameter, renamed.max_length) == ("items", "item", 0)
    assert renamed.options() == {"over": ["items", "item"], "max_active": None, "fail_fast": False, "max_length": 0}


def test_workflow_knows_its_maps_and_resolves_item_identities():
    """Workflow.maps, maps_over, mapped_job_of and [] of an item id ("3[0]") agree with the Map's place."""
    workflow = Workflow(Chain(flag(0), make_items([1, 2]), mapped_behave("t", max_active=2), collect()))
    assert list(workflow.maps) == ["3"]
    assert workflow.maps["3"].job == workflow["3"] and workflow.maps["3"].max_active == 2
    assert workflow.maps_over("items") == [workflow.maps["3"]]
    assert workflow.maps_over("flag") == []
    assert workflow.mapped_job_of("3[0]") == "3"
    assert workflow.mapped_job_of("3[12]") == "3"
    assert workflow.mapped_job_of("3") is None
    assert workflow.mapped_job_of("2[0]") is None  # job 2 is not mapped
    item = workflow["3[1]"]
    assert (item.identity, item.name) == ("3[1]", BEHAVE)
    with pytest.raises(KeyError):
        workflow["2[0]"]
    (each,) = [binding for binding in workflow.input_bindings("3[0]") if binding.each]
    assert (each.output, each.parameter, each.producers, each.many) == ("items", "item", ("2",), False)
    assert workflow.input_bindings("3[0]") == workflow.input_bindings("3")
    (gathered,) = workflow.input_bindings("4")
    assert (gathered.producers, gathered.many, gathered.each) == (("3",), True, False)
    assert (item_id("3", 7), split_item_id("3[7]"), split_item_id("3")) == ("3[7]", ("3", 7), None)


# --- run time: the list that is mapped over -------------------------------------------------------


@pytest.mark.parametrize("value, kind", [({"a": 1}, "dict"), ("abc", "str"), (3, "int")])
def test_a_producer_whose_value_is_not_a_list_fails(local_executor, token, value, kind):
    """A producer of a mapped-over output that is not a list fails, naming the output and the Map."""
    workflow = Workflow(Chain(make_items(value), mapped_behave(token), collect()))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    states = local_executor.job_states(workflow_id)
    assert list(states) == ["1", "2", "3"]  # the mapped job never expanded
    producer = states["1"]
    assert producer.status is JobStatus.FAILURE
    assert (
        f"output 'items' is mapped over by job 2 ({BEHAVE}), so it must be a list, not a {kind}" in producer.exception
    )
    assert "job 1 (tests.jobs.mapping.make_items)" in producer.exception
    assert states["2"].status is JobStatus.PENDING and states["3"].status is JobStatus.PENDING
    assert jobs_mapping.CALLS[token] == []


def test_a_producer_returning_none_for_a_mapped_over_output_fails(local_executor, token):
    """A producer that returns None (Success(None)) for a mapped-over output fails like any non-list value."""
    workflow = Workflow(Chain(make_nothing(), mapped_behave(token), collect()))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    states = local_executor.job_states(workflow_id)
    assert states["1"].status is JobStatus.FAILURE
    assert f"output 'items' is mapped over by job 2 ({BEHAVE}), so it must be a list, not a NoneType" in (
        states["1"].exception or ""
    )
    assert states["2"].status is JobStatus.PENDING


def test_a_list_longer_than_max_length_fails_the_producer(local_executor, token):
    """A list longer than the Map's max_length fails its producer; the mapped job never starts."""
    workflow = Workflow(Chain(make_items([1, 2, 3]), mapped_behave(token, max_length=2)))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    states = local_executor.job_states(workflow_id)
    assert states["1"].status is JobStatus.FAILURE
    assert (
        f"output 'items' has 3 items, more than the max_length=2 of the Map of job 2 ({BEHAVE})"
        in states["1"].exception
    )
    assert states["2"].status is JobStatus.PENDING
    assert "2[0]" not in states
    assert jobs_mapping.CALLS[token] == []


def test_a_list_of_exactly_max_length_is_mapped(local_executor, token):
    """A list as long as max_length is accepted."""
    workflow_id, state = run_to_end(
        local_executor, Workflow(Chain(make_items([1, 2]), mapped_behave(token, max_length=2)))
    )
    assert state.status is WorkflowStatus.SUCCESS
    assert local_executor.job_state(workflow_id, "2").result == [1, 2]


def test_an_empty_list_gives_no_item_and_consumers_get_an_empty_list(local_executor, token):
    """An empty list: no item, the mapped job SUCCESS with [], and its consumers get []."""
    workflow = Workflow(Chain(make_items([]), mapped_behave(token, max_length=0), collect()))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.SUCCESS
    states = local_executor.job_states(workflow_id)
    assert list(states) == ["1", "2", "3"]
    assert (states["2"].status, states["2"].result, states["2"].exception) == (JobStatus.SUCCESS, [], None)
    assert (states["3"].status, states["3"].result) == (JobStatus.SUCCESS, [])
    assert local_executor.outputs(workflow_id) == {"items": [[]], "results": [], "collected": [[]]}
    assert jobs_mapping.CALLS[token] == []


# --- run time: items ----------------------------------------------------------------------------------


def test_items_get_ids_of_the_mapped_job_and_index_and_that_job_id(local_executor):
    """Items are "N[0]", "N[1]", ...; each gets its own item and its item id as the job_id input."""
    workflow = Workflow(Chain(flag(0), make_items(["a", {"b": 2}, [3]]), Map(whoami(), over=("items", "item"))))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.SUCCESS
    states = local_executor.job_states(workflow_id)
    assert list(states) == ["1", "2", "3", "3[0]", "3[1]", "3[2]"]
    assert [states[f"3[{index}]"].result for index in range(3)] == [
        {"job_id": "3[0]", "item": "a"},
        {"job_id": "3[1]", "item": {"b": 2}},
        {"job_id": "3[2]", "item": [3]},
    ]
    assert states["3"].result == [states[f"3[{index}]"].result for index in range(3)]
    assert local_executor.progress(workflow_id) == (3, 3)  # items aside, like callbacks


def test_map_over_an_output_by_name_fills_the_parameter_of_that_name(local_executor):
    """``over="n"`` gives each item of 'n' to parameter n; a list consumer gets every item's value."""
    workflow = Workflow(Chain(numbers([1, 2, 3, 4]), Map(square(), over="n"), total()))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.SUCCESS
    assert local_executor.outputs(workflow_id) == {"n": [[1, 2, 3, 4]], "squares": [1, 4, 9, 16], "total": [30]}


def test_consumers_get_item_values_in_item_order_not_finish_order(local_executor, token, clock):
    """Items that finish out of order still reach consumers (and the mapped job's result) in item order."""
    items = [
        {"value": "first", "checks": 1, "wait": 30},
        {"value": "second", "retries": 1, "wait": 10},
        {"value": "third"},
    ]
    workflow_id, state = run_to_end(local_executor, Workflow(Chain(make_items(items), mapped_behave(token), collect())))
    assert state.status is WorkflowStatus.SUCCESS
    assert jobs_mapping.FINISHED[token] == ["2[2]", "2[1]", "2[0]"]  # the last finished first ...
    assert local_executor.job_state(workflow_id, "3").result == ["first", "second", "third"]  # ... yet comes last
    assert local_executor.job_state(workflow_id, "2").result == ["first", "second", "third"]
    assert local_executor.outputs(workflow_id)["results"] == ["first", "second", "third"]
    assert clock.now() == 30


def test_each_item_has_its_own_retries_checks_context_and_failure(local_executor, token, clock):
    """Retries, checks with their context, and a failure stay with their item; the others finish, consumers wait."""
    items = [
        {"value": "retried", "retries": 2, "wait": 3},
        {"value": "checked", "checks": 2, "wait": 5},
        {"fail": {"why": "bad item"}},
        {"value": "plain"},
    ]
    workflow = Workflow(Chain(make_items(items), mapped_behave(token), collect()))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    states = local_executor.job_states(workflow_id)

    retried, checked, failed, plain = (states[f"2[{index}]"] for index in range(4))
    assert (retried.status, retried.retries, retried.checks, retried.result) == (JobStatus.SUCCESS, 2, 0, "retried")
    assert [(c["retries"], c["now"]) for c in calls_of(token, "2[0]")] == [(0, 0), (1, 3), (2, 6)]

    assert (checked.status, checked.retries, checked.checks, checked.result) == (JobStatus.SUCCESS, 0, 2, "checked")
    assert checked.context == {"n": 2, "seen": ["2[1]", "2[1]"]}
    assert [(c["context"], c["now"]) for c in calls_of(token, "2[1]")] == [
        ({}, 0),
        ({"n": 1, "seen": ["2[1]"]}, 5),
        ({"n": 2, "seen": ["2[1]", "2[1]"]}, 10),
    ]

    assert (failed.status, failed.retries, failed.checks, failed.result) == (
        JobStatus.FAILURE,
        0,
        0,
        {"why": "bad item"},
    )
    assert f"job 2[2] ({BEHAVE}) returned Failure({{'why': 'bad item'}})" in failed.exception
    assert len(calls_of(token, "2[2]")) == 1

    assert (plain.status, plain.retries, plain.checks, plain.result) == (JobStatus.SUCCESS, 0, 0, "plain")

    mapped = states["2"]
    assert mapped.status is JobStatus.FAILURE
    assert mapped.exception == f"job 2 ({BEHAVE}): 1 of its 4 items did not succeed: 2[2]"
    assert (mapped.retries, mapped.checks) == (0, 0)
    assert states["3"].status is JobStatus.PENDING
    assert local_executor.progress(workflow_id) == (2, 3)
    assert local_executor.outputs(workflow_id)["results"] == ["retried", "checked", "plain"]  # those that succeeded
    assert "collected" not in local_executor.outputs(workflow_id)


def test_retry_caps_of_items_come_from_the_mapped_jobs_meta(local_executor, token):
    """An item that keeps asking for retries gives up at the mapped job's meta max_retries, on its own."""
    items = [{"retries": 5, "wait": 1}, "fine"]
    workflow = Workflow(Chain(make_items(items), Map(behave(token).with_meta(max_retries=2), over=("items", "item"))))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    gave_up = local_executor.job_state(workflow_id, "2[0]")
    assert (gave_up.status, gave_up.retries) == (JobStatus.FAILURE, 2)
    assert f"job 2[0] ({BEHAVE}) asked for a retry but gave up after 2 retries (max_retries=2)" in gave_up.exception
    assert local_executor.job_state(workflow_id, "2[1]").status is JobStatus.SUCCESS
    assert local_executor.job_state(workflow_id, "2").exception.endswith("1 of its 2 items did not succeed: 2[0]")


def test_an_item_raising_fails_only_that_item(local_executor):
    """An item whose function raises fails with its traceback; the others succeed and the mapped job fails."""
    workflow = Workflow(Chain(numbers([1, "x", 3]), Map(square(), over="n")))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    states = local_executor.job_states(workflow_id)
    assert [states[f"2[{i}]"].status for i in range(3)] == [JobStatus.SUCCESS, JobStatus.FAILURE, JobStatus.SUCCESS]
    assert "TypeError" in states["2[1]"].exception
    assert states["2"].exception.endswith("1 of its 3 items did not succeed: 2[1]")
    assert local_executor.outputs(workflow_id)["squares"] == [1, 9]


def test_max_active_caps_the_items_running_at_once(local_executor, token):
    """With max_active=2, never more than 2 items run at once, and every item still runs."""
    workflow = Workflow(
        Chain(make_items(list(range(6))), Map(crowd(token, hold=0.03), over=("items", "item"), max_active=2))
    )
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.SUCCESS
    assert jobs_mapping.PEAK[token] == 2
    assert local_executor.job_state(workflow_id, "2").result == list(range(6))


def test_without_max_active_items_run_side_by_side(local_executor, token):
    """Without max_active, the items run at once (so the max_active test above measures something)."""
    workflow = Workflow(Chain(make_items(list(range(4))), Map(crowd(token, hold=0, gather=4), over=("items", "item"))))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.SUCCESS
    assert jobs_mapping.PEAK[token] == 4
    assert local_executor.job_state(workflow_id, "2").result == list(range(4))


def test_max_active_counts_items_in_a_try_not_items_waiting_to_retry(local_executor, token):
    """An item waiting out a Retry delay frees its slot under max_active for the next item."""
    items = [{"value": "a", "retries": 1, "wait": 10}, {"value": "b"}]
    workflow = Workflow(Chain(make_items(items), mapped_behave(token, max_active=1)))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.SUCCESS
    assert [(c["job_id"], c["now"]) for c in jobs_mapping.CALLS[token]] == [("2[0]", 0), ("2[1]", 0), ("2[0]", 10)]
    assert local_executor.job_state(workflow_id, "2").result == ["a", "b"]


def test_map_fail_fast_stops_an_item_that_would_check_again_after_another_failed(local_executor, token):
    """With Map fail_fast, an item's next check after another item failed fails as stopped; running items finish."""
    items = [{"fail": "x"}, {"value": "later", "checks": 1, "wait": 10}, {"value": "at once"}]
    workflow = Workflow(Chain(make_items(items), mapped_behave(token, fail_fast=True), collect()))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    states = local_executor.job_states(workflow_id)
    stopped = states["2[1]"]
    assert stopped.status is JobStatus.FAILURE
    assert stopped.exception.startswith("stopped:")
    assert stopped.exception == "stopped: item 2[0] failed and the Map is fail_fast"
    assert len(calls_of(token, "2[1]")) == 1  # its check never ran
    assert states["2[2]"].status is JobStatus.SUCCESS  # it ran beside the failing item
    assert states["2"].exception.endswith("2 of its 3 items did not succeed: 2[0], 2[1]")
    assert states["3"].status is JobStatus.PENDING


def test_map_fail_fast_stops_a_held_item_that_would_start_after_another_failed(local_executor, token):
    """With Map fail_fast and max_active=1, the item held behind a failed one fails as stopped without running."""
    workflow = Workflow(Chain(make_items([{"fail": "x"}, "never"]), mapped_behave(token, fail_fast=True, max_active=1)))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    held = local_executor.job_state(workflow_id, "2[1]")
    assert held.status is JobStatus.FAILURE
    assert held.exception == "stopped: item 2[0] failed and the Map is fail_fast"
    assert calls_of(token, "2[1]") == []


def test_map_fail_fast_stops_every_held_item_after_a_failure(local_executor, token):
    """With Map fail_fast and max_active=1, every item held behind a failed one ends failed as stopped."""
    workflow = Workflow(
        Chain(
            make_items([{"fail": "x"}, "never", "never", "never"]), mapped_behave(token, fail_fast=True, max_active=1)
        )
    )
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    states = local_executor.job_states(workflow_id)
    for index in (1, 2, 3):
        assert states[f"2[{index}]"].status is JobStatus.FAILURE, index
        assert states[f"2[{index}]"].exception == "stopped: item 2[0] failed and the Map is fail_fast"
    assert len(jobs_mapping.CALLS[token]) == 1


def test_without_map_fail_fast_a_failed_item_leaves_held_items_running(local_executor, token):
    """Without fail_fast, items held under max_active still run after an item failed."""
    workflow = Workflow(Chain(make_items([{"fail": "x"}, "b", "c"]), mapped_behave(token, max_active=1)))
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    assert [c["job_id"] for c in jobs_mapping.CALLS[token]] == ["2[0]", "2[1]", "2[2]"]
    assert local_executor.outputs(workflow_id)["results"] == ["b", "c"]


def test_workflow_fail_fast_with_a_failing_item_stops_the_run(local_executor, token):
    """A fail_fast workflow stops at a failing item: held items never start, the mapped job fails, consumers wait."""
    workflow = Workflow(
        Chain(make_items([{"fail": "x"}, "b", "c"]), mapped_behave(token, max_active=1), collect()), fail_fast=True
    ).on(ON_FINISHED, report_results())
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    states = local_executor.job_states(workflow_id)
    assert [c["job_id"] for c in jobs_mapping.CALLS[token]] == ["2[0]"]
    assert states["2[0]"].status is JobStatus.FAILURE
    assert [states[i].status for i in ("2[1]", "2[2]")] == [JobStatus.PENDING, JobStatus.PENDING]
    assert states["2"].status is JobStatus.FAILURE
    assert states["2"].exception.endswith("3 of its 3 items did not succeed: 2[0], 2[1], 2[2]")
    assert states["3"].status is JobStatus.PENDING
    (callback,) = workflow.callback_ids()
    assert states[callback].result == {"status": "failure", "results": []}


def test_workflow_fail_fast_stops_an_item_waiting_to_check_again(local_executor, token):
    """A fail_fast workflow stops at a failing item: an item waiting for its next check is never checked again."""
    items = [{"fail": "x"}, {"checks": 1, "wait": 10}]
    workflow = Workflow(Chain(make_items(items), mapped_behave(token)), fail_fast=True)
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    assert len(calls_of(token, "2[1]")) == 1
    waiting = local_executor.job_state(workflow_id, "2[1]")
    if waiting.status is JobStatus.PENDING:  # its first check had been settled before the failure
        assert waiting.checks == 1
    else:  # its first check was still running: it ends failed, as the workflow stopped
        assert waiting.exception == "stopped: another job failed and the workflow is fail_fast"
    assert local_executor.job_state(workflow_id, "2").status is JobStatus.FAILURE


def test_an_on_finished_callback_gets_the_succeeded_items_values(local_executor, token):
    """An ON_FINISHED callback of the mapped output gets the values of the items that succeeded, in item order."""
    items = [{"value": "a", "checks": 1, "wait": 7}, {"fail": "x"}, {"value": "c"}]
    workflow = Workflow(Chain(make_items(items), mapped_behave(token))).on(ON_FINISHED, report_results())
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.FAILURE
    (callback,) = workflow.callback_ids()
    callback_state = local_executor.job_state(workflow_id, callback)
    assert callback_state.status is JobStatus.SUCCESS
    assert callback_state.result == {"status": "failure", "results": ["a", "c"]}


def test_an_on_finished_callback_gets_every_items_value_on_success(local_executor):
    """An ON_FINISHED callback of the mapped output gets all the items' values when every item succeeded."""
    workflow = Workflow(Chain(make_items([3, 1, 2]), Map(whoami(), over=("items", "item"))))
    workflow.on(ON_FINISHED, report_results())
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.SUCCESS
    result = local_executor.job_state(workflow_id, workflow.callback_ids()[0]).result
    assert result == {
        "status": "success",
        "results": [{"job_id": f"2[{i}]", "item": v} for i, v in enumerate([3, 1, 2])],
    }


def test_outputs_list_the_items_values_in_item_order(local_executor, token):
    """executor.outputs() gives the mapped output as the items' values in item order, beside other outputs."""
    items = [{"value": 10, "checks": 1, "wait": 20}, {"value": 20, "checks": 1, "wait": 5}, {"value": 30}]
    workflow = Workflow(
        Chain(Group(make_items(items), numbers([5])), Group(mapped_behave(token), Map(square(), over="n")))
    )
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.SUCCESS
    assert local_executor.outputs(workflow_id) == {
        "items": [items],
        "n": [[5]],
        "results": [10, 20, 30],
        "squares": [25],
    }


def test_a_mapped_job_and_a_plain_producer_of_one_output_feed_a_list_consumer_in_workflow_order(local_executor):
    """A consumer of an output made by a mapped job and a plain job gets the items' values, then the plain value."""
    workflow = Workflow.from_graph(
        {
            "p": make_items(["x", "y"]),
            "m": Map(whoami(), over=("items", "item")),
            "q": takes_item("solo"),
            "c": collect(),
        },
        [("p", "m"), ("m", "c"), ("q", "c")],
    )
    workflow_id, state = run_to_end(local_executor, workflow)
    assert state.status is WorkflowStatus.SUCCESS
    assert local_executor.job_state(workflow_id, "c").result == [
        {"job_id": "m[0]", "item": "x"},
        {"job_id": "m[1]", "item": "y"},
        ["solo", None],
    ]


def test_items_of_one_run_do_not_leak_into_another(local_executor, token):
    """Two runs of one workflow with lists of different lengths each get their own items."""
    workflow = Workflow(Chain(numbers([1, 2, 3]), Map(square(), over="n"), total()))
    first = local_executor.run(workflow)
    second = local_executor.run(Workflow(Chain(numbers([4]), Map(square(), over="n"), total())))
    assert local_executor.wait(first, timeout=TIMEOUT).status is WorkflowStatus.SUCCESS
    assert local_executor.wait(second, timeout=TIMEOUT).status is WorkflowStatus.SUCCESS
    assert sorted(local_executor.job_states(first)) == ["1", "2", "2[0]", "2[1]", "2[2]", "3"]
    assert sorted(local_executor.job_states(second)) == ["1", "2", "2[0]", "3"]
    assert local_executor.outputs(first)["total"] == [14]
    assert local_executor.outputs(second)["total"] == [16]


# --- serialization ------------------------------------------------------------------------------------


def mapped_workflow(token: str) -> Workflow:
    return Workflow(
        Chain(
            Group(make_items([{"value": "a"}, {"value": "b", "checks": 1, "wait": 2}]), numbers([2, 3])),
            Group(
                mapped_behave(token, max_active=2, fail_fast=True, max_length=10),
                Map(square(), over="n"),
            ),
            Group(collect(), total()),
        )
    )


def test_a_workflow_with_maps_round_trips_through_serialize(local_executor, token):
    """serialize()/deserialize() keep every Map, its (output, parameter) pair and options, and the run is the same."""
    workflow = mapped_workflow(token)
    data = json.loads(workflow.serialize())
    assert data["maps"] == {
        "3": {"over": ["items", "item"], "max_active": 2, "fail_fast": True, "max_length": 10},
        "4": {"over": "n", "max_active": None, "fail_fast": False, "max_length": DEFAULT_MAX_LENGTH},
    }
    restored = Workflow.deserialize(workflow.serialize(), allowed_modules=ALLOWED)
    assert restored == workflow
    assert restored.serialize() == workflow.serialize()
    assert restored.maps == workflow.maps
    assert restored.maps["3"].over == ("items", "item")
    assert restored.structure == workflow.structure
    assert Workflow.deserialize(data, allowed_modules=ALLOWED) == workflow  # from the dict as well
    workflow_id, state = run_to_end(local_executor, restored)
    assert state.status is WorkflowStatus.SUCCESS
    assert local_executor.outputs(workflow_id) == {
        "items": [[{"value": "a"}, {"value": "b", "checks": 1, "wait": 2}]],
        "n": [[2, 3]],
        "results": ["a", "b"],
        "squares": [4, 9],
        "collected": [["a", "b"]],
        "total": [13],
    }


def test_a_workflow_without_maps_writes_no_maps_key():
    """Only a workflow with a mapped job writes "maps", so other workflows serialize as before."""
    data = json.loads(Workflow(Chain(numbers([1]), square(3))).serialize())
    assert "maps" not in data


def test_from_graph_takes_a_map_value_and_round_trips(local_executor):
    """from_graph accepts a Map as a job; its items are "<id>[n]", and it round-trips with structure None."""
    workflow = Workflow.from_graph(
        {"produce": numbers([1, 2]), "sq": Map(square(), over="n", max_active=1), "sum": total()},
        [("produce", "sq"), ("sq", "sum")],
    )
    assert list(workflow.maps) == ["sq"]
    assert workflow.maps["sq"].job.identity == "sq" and workflow.maps["sq"].max_active == 1
    assert workflow.structure is None
    restored = Workflow.deserialize(workflow.serialize(), allowed_modules=ALLOWED)
    assert restored == workflow and restored.maps == workflow.maps and restored.structure is None
    workflow_id, state = run_to_end(local_executor, restored)
    assert state.status is WorkflowStatus.SUCCESS
    assert sorted(local_executor.job_states(workflow_id)) == ["produce", "sq", "sq[0]", "sq[1]", "sum"]
    assert local_executor.outputs(workflow_id)["total"] == [5]


def test_from_graph_validates_maps_like_chains():
    """from_graph refuses a Map whose producer is not upstream of it, as Chains and Groups do."""
    with pytest.raises(InvalidWorkflow, match=r"job sq \(tests\.jobs\.mapping\.square\): input 'n'"):
        Workflow.from_graph({"produce": numbers([1]), "sq": Map(square(), over="n")}, [])


@pytest.mark.parametrize("identity", ["2[0]", "x[12]"])
def test_from_graph_refuses_an_identity_shaped_like_an_item(identity):
    """A job identity that looks like an item's ("2[0]") is refused."""
    with pytest.raises(InvalidWorkflow, match=r"does not end in \[n\]"):
        Workflow.from_graph({identity: numbers([1])}, [])


def _serialized_with_maps(maps) -> dict:
    data = json.loads(Workflow(Chain(numbers([1, 2]), Map(square(), over="n"))).serialize())
    data["maps"] = maps
    return data


@pytest.mark.parametrize(
    "maps, expected",
    [
        ([["2", {"over": "n"}]], "serialized maps must name jobs of the workflow"),
        ("2", "serialized maps must name jobs of the workflow"),
        ({"9": {"over": "n"}}, "serialized maps must name jobs of the workflow"),
        ({"2": "n"}, "serialized map of job 2 (tests.jobs.mapping.square) is malformed"),
        ({"2": None}, "serialized map of job 2 (tests.jobs.mapping.square) is malformed"),
        ({"2": {}}, "serialized map of job 2 (tests.jobs.mapping.square) is malformed"),
        ({"2": {"over": "n", "extra": 1}}, "serialized map of job 2 (tests.jobs.mapping.square) is malformed"),
        ({"2": {"over": ["n"]}}, "over=('n',): invalid input"),
        ({"2": {"over": ["n", "n", "n"]}}, "invalid input"),
        ({"2": {"over": 5}}, "over=5: invalid input"),
        ({"2": {"over": "n", "max_active": 0}}, "max_active must be a whole number of 1 or more, not 0"),
        ({"2": {"over": "n", "max_active": "2"}}, "max_active must be a whole number of 1 or more, not '2'"),
        ({"2": {"over": "n", "fail_fast": "yes"}}, "fail_fast must be True or False, not 'yes'"),
        ({"2": {"over": "n", "max_length": -1}}, "max_length must be a whole number of 0 or more, not -1"),
        ({"2": {"over": "n", "max_length": None}}, "max_length must be a whole number of 0 or more, not None"),
        ({"2": {"over": ["nope", "n"]}}, "job 2 (tests.jobs.mapping.square): Map over 'nope' (parameter 'n'): no job"),
        ({"2": {"over": "n"}, "1": {"over": ["n", "values"]}}, "job 1 (tests.jobs.mapping.numbers): input 'n'"),
    ],
)
def test_malformed_serialized_maps_are_refused(maps, expected):
    """Malformed "maps" data (wrong shape, unknown job, bad options, an invalid Map) is refused with InvalidWorkflow."""
    with pytest.raises(InvalidWorkflow) as caught:
        Workflow.deserialize(_serialized_with_maps(maps), allowed_modules=ALLOWED)
    assert expected in str(caught.value)


def test_serialized_maps_of_a_callback_are_refused():
    """A callback is never mapped: "maps" naming a callback's identity is refused."""
    workflow = Workflow(Chain(numbers([1]), Map(square(), over="n"))).on(ON_FINISHED, total())
    data = json.loads(workflow.serialize())
    (callback,) = workflow.callback_ids()
    data["maps"][callback] = {"over": "n"}
    with pytest.raises(InvalidWorkflow, match="serialized maps must name jobs of the workflow"):
        Workflow.deserialize(data, allowed_modules=ALLOWED)
