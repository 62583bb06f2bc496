"""Workflows: Chain/Group nesting, identities, dependencies, callbacks, JSON, and validation errors."""

from __future__ import annotations

import contextlib
import copy
import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hymir import Chain, Group, Job, Workflow, job
from hymir.errors import InvalidWorkflow
from tests.jobs import core as jobs_core
from tests.jobs.core import (
    consume,
    count,
    count_typing_list,
    double,
    introspect,
    join_items,
    needs_two,
    noop,
    produce,
    report,
    take_one,
    uppercase,
    wants_absent_parameter,
)

ON_FINISHED = Workflow.Callbacks.ON_FINISHED


@pytest.fixture(autouse=True, scope="module")
def allow_test_jobs():
    """Reading a workflow back may be limited to allowed modules; allow the test jobs here."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HYMIR_ALLOWED_MODULES", "tests")
        yield


def invalid(build, *parts: str) -> InvalidWorkflow:
    """Assert that ``build()`` raises InvalidWorkflow whose message names every one of ``parts``."""
    with pytest.raises(InvalidWorkflow) as caught:
        build()
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"
    return caught.value


def diamond() -> Workflow:
    """Chain(a, Group(b, c), d) with outputs flowing a -> b, c -> d."""
    return Workflow(Chain(produce("seed"), Group(uppercase("b"), uppercase("c")), count()))


# --- nesting, identities, dependencies ----------------------------------------------------------


def test_chain_group_dependencies_match_the_contract_example():
    a, b, c, d = noop(), noop(), noop(), noop()
    workflow = Workflow(Chain(a, Group(b, c), d))
    assert workflow.dependencies == [("1", []), ("2", ["1"]), ("3", ["1"]), ("4", ["2", "3"])]


def test_identities_are_numbered_in_definition_order():
    workflow = diamond()
    assert list(workflow.jobs) == ["1", "2", "3", "4"]
    assert [j.identity for j in workflow.jobs.values()] == ["1", "2", "3", "4"]
    assert [j.name for j in workflow.jobs.values()] == [
        "tests.jobs.scenario.produce",
        "tests.jobs.core.uppercase",
        "tests.jobs.core.uppercase",
        "tests.jobs.core.count",
    ]
    assert len(workflow) == 4


def test_building_does_not_mutate_the_jobs_given():
    given_job = uppercase("x")
    workflow = Workflow(Chain(given_job, given_job))
    assert given_job.identity is None
    assert [j.identity for j in workflow.jobs.values()] == ["1", "2"]
    assert workflow.dependencies == [("1", []), ("2", ["1"])]


def test_nested_chains_and_groups():
    workflow = Workflow(Chain(Group(Chain(noop(), noop()), noop()), noop(), Group(noop(), Chain(noop(), noop()))))
    deps = dict(workflow.dependencies)
    assert deps == {
        "1": [],
        "2": ["1"],
        "3": [],
        "4": ["2", "3"],
        "5": ["4"],
        "6": ["4"],
        "7": ["6"],
    }
    order = [identity for identity, _ in workflow.dependencies]
    for identity, predecessors in workflow.dependencies:
        assert all(order.index(p) < order.index(identity) for p in predecessors)
    assert workflow.structure == (
        "chain",
        (("group", (("chain", ("1", "2")), "3")), "4", ("group", ("5", ("chain", ("6", "7"))))),
    )


def _reference_edges(member) -> tuple[list[tuple[str, str]], dict]:
    """Every edge of a Chain/Group nesting, pair by pair: each exit of a Chain's member to each entry of the next."""
    jobs: dict = {}
    edges: list[tuple[str, str]] = []

    def add(node) -> tuple[list[str], list[str]]:
        if isinstance(node, Job):
            identity = str(len(jobs) + 1)
            jobs[identity] = node
            return [identity], [identity]
        parts = [add(child) for child in node.members]
        if isinstance(node, Group):
            return [i for entries, _ in parts for i in entries], [i for _, exits in parts for i in exits]
        for (_, exits), (entries, _) in itertools.pairwise(parts):
            edges.extend((exit_, entry) for exit_ in exits for entry in entries)
        return parts[0][0], parts[-1][1]

    add(member)
    return edges, jobs


def _nestings(leaf):
    return st.recursive(
        leaf,
        lambda children: st.builds(
            lambda kind, members: kind(*members),
            st.sampled_from([Chain, Group]),
            st.lists(children, min_size=1, max_size=4),
        ),
        max_leaves=14,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_nestings(st.builds(noop)))
def test_chains_and_groups_make_the_graph_their_edges_spell_out(root):
    # The builder shares one tuple of predecessors among the jobs that wait for the same exits;
    # the graph (predecessors in order, topological order) is that of every edge spelled out.
    edges, jobs = _reference_edges(root)
    assert Workflow(root).dependencies == Workflow.from_graph(jobs, edges).dependencies


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_nestings(st.sampled_from([noop(), noop(), produce(1).with_output("value"), consume().with_inputs("value")])))
def test_chains_and_groups_refuse_a_producer_that_does_not_run_before_exactly_as_their_edges_do(root):
    edges, jobs = _reference_edges(root)
    outcomes = []
    for build in (lambda: Workflow(root), lambda: Workflow.from_graph(jobs, edges)):
        try:
            workflow = build()
        except InvalidWorkflow as error:
            outcomes.append(str(error))
            continue
        outcomes.append({job_id: workflow.input_bindings(job_id) for job_id in workflow.jobs})
    assert outcomes[0] == outcomes[1]


def test_a_group_of_jobs_has_no_edges_and_a_single_job_is_a_workflow():
    assert Workflow(Group(noop(), noop(), noop())).dependencies == [("1", []), ("2", []), ("3", [])]
    single = Workflow(noop())
    assert single.dependencies == [("1", [])]
    assert single.structure == "1"


def test_jobs_mapping_and_item_access():
    workflow = diamond()
    jobs = workflow.jobs
    assert jobs["2"] == Job("tests.jobs.core.uppercase", identity="2", args=("b",), output="words")
    assert workflow["4"] == jobs["4"]
    assert workflow["4"].inputs == ["words"]
    jobs.pop("1")  # a copy: the workflow keeps its jobs
    assert "1" in workflow.jobs
    with pytest.raises(KeyError):
        workflow["99"]


def test_outputs_and_inputs_sets():
    workflow = Workflow(Chain(Group(uppercase("a"), produce(3)), Group(join_items(), double()), introspect()))
    assert workflow.outputs == {"words", "value", "joined", "double", "info"}
    # reserved inputs (introspect) are not among the inputs; a renamed input is listed by its output
    assert workflow.inputs == {"words", "value"}
    assert Workflow(noop()).outputs == set()
    assert Workflow(noop()).inputs == set()


def test_workflow_from_graph_with_explicit_edges():
    workflow = Workflow.from_graph(
        {"extract": produce(1), "left": double(), "right": consume(), "done": noop()},
        [("extract", "left"), ("extract", "right"), ("left", "done"), ("right", "done")],
    )
    assert workflow.dependencies == [
        ("extract", []),
        ("left", ["extract"]),
        ("right", ["extract"]),
        ("done", ["left", "right"]),
    ]
    assert workflow["left"].identity == "left"
    assert workflow.structure is None
    assert workflow.inputs == {"value"}


def test_from_graph_orders_jobs_by_edges_not_by_definition():
    workflow = Workflow.from_graph({"b": consume(), "a": produce(1)}, [("a", "b")])
    assert workflow.dependencies == [("a", []), ("b", ["a"])]


@pytest.mark.parametrize(
    "jobs, edges, parts",
    [
        ({"a": noop()}, [("a", "zz")], ["'zz'"]),
        ({"a": noop()}, [("zz", "a")], ["'zz'"]),
        ({"a": noop()}, [("a",)], ["('a',)"]),
        ({"a": noop()}, ["ab"], ["'ab'"]),
        ({"a": noop()}, [("a", "a")], ["a"]),
        ({"a": noop(), 1: noop()}, [], ["1"]),
        ({"a": noop(), "": noop()}, [], ["''"]),
        ({"a": noop(), "b": uppercase}, [], ["job b"]),
        ([noop()], [], ["list"]),
    ],
    ids=repr,
)
def test_from_graph_refuses_bad_jobs_and_edges(jobs, edges, parts):
    invalid(lambda: Workflow.from_graph(jobs, edges), *parts)


# --- callbacks ----------------------------------------------------------------------------------


def test_on_finished_registers_a_callback_after_the_jobs():
    workflow = Workflow(Chain(produce(1), produce(2)))
    assert workflow.on(ON_FINISHED, report()) is workflow
    (callback,) = workflow.callbacks[ON_FINISHED]
    assert callback.name == "tests.jobs.scenario.report"
    assert callback.identity == "3"
    assert workflow.callback_ids() == ["3"]
    assert workflow["3"] == callback
    assert list(workflow.jobs) == ["1", "2"]  # callbacks are not jobs of the graph
    assert len(workflow) == 2
    assert workflow.outputs == {"value", "report"}
    workflow.on(ON_FINISHED, noop())
    assert workflow.callback_ids() == ["3", "4"]


def test_a_callback_may_consume_outputs_of_any_job():
    workflow = Workflow(Group(produce(1), produce(2))).on(ON_FINISHED, report())
    bindings = workflow.input_bindings(workflow.callback_ids()[0])
    assert [(b.output, b.producers, b.many) for b in bindings if b.producers is not None] == [
        ("value", ("1", "2"), True)
    ]


def test_callbacks_are_validated_like_jobs():
    workflow = Workflow(noop())
    invalid(lambda: workflow.on(ON_FINISHED, report()), "report", "'value'")
    invalid(lambda: workflow.on(ON_FINISHED, report), "report")
    invalid(lambda: workflow.on("on_finished", noop()), "on_finished")
    invalid(lambda: workflow.on(ON_FINISHED, needs_two(1)), "tests.jobs.core.needs_two", "'b'")
    assert workflow.callback_ids() == []


# --- JSON -----------------------------------------------------------------------------------------


def rich_workflow() -> Workflow:
    workflow = Workflow(
        Chain(
            Group(uppercase("hello"), uppercase("world"), produce({"nested": [1, 2.5, None, True]})),
            Group(join_items().with_meta(airflow={"queue": "q"}), double(), count_typing_list()),
            introspect(),
        )
    )
    return workflow.on(ON_FINISHED, report())


@pytest.mark.parametrize(
    "build",
    [
        rich_workflow,
        diamond,
        lambda: Workflow(noop()),
        lambda: Workflow.from_graph({"a": produce(1), "b": consume()}, [("a", "b")]),
    ],
    ids=["rich", "diamond", "single", "from_graph"],
)
def test_serialize_is_a_json_string_that_round_trips(build):
    workflow = build()
    text = workflow.serialize()
    assert isinstance(text, str)
    assert isinstance(json.loads(text), dict)
    restored = Workflow.deserialize(text)
    assert restored.serialize() == text
    assert restored == workflow
    assert restored.dependencies == workflow.dependencies
    assert restored.jobs == workflow.jobs
    assert restored.structure == workflow.structure
    assert restored.callbacks == workflow.callbacks
    assert restored.outputs == workflow.outputs and restored.inputs == workflow.inputs


def test_deserialize_accepts_bytes_and_dicts():
    text = rich_workflow().serialize()
    assert Workflow.deserialize(text.encode()).serialize() == text
    assert Workflow.deserialize(json.loads(text)).serialize() == text


def test_round_trip_keeps_renamed_inputs_and_meta():
    restored = Workflow.deserialize(rich_workflow().serialize())
    joined = next(j for j in restored.jobs.values() if j.name == "tests.jobs.core.join_items")
    assert joined.inputs == [("words", "items")]
    assert joined.meta == {"airflow": {"queue": "q"}}


def _valid_data() -> dict:
    return json.loads(diamond().on(ON_FINISHED, noop()).serialize())


def _mutated(**changes) -> dict:
    data = _valid_data()
    data.update(changes)
    return data


def _with_job(index: int, **changes) -> dict:
    data = _valid_data()
    data["jobs"][index].update(changes)
    return data


MALFORMED = {
    "garbage json": "{not json",
    "empty string": "",
    "truncated": _valid_data().__repr__()[:40],
    "bad utf-8": b"\xff\xfe\xfa",
    "json list": "[1, 2]",
    "json number": "3",
    "json null": "null",
    "json string": '"workflow"',
    "python list": [1, 2],
    "python int": 3,
    "python float": 2.5,
    "python none": None,
    "empty object": {},
    "no version": {k: v for k, v in _valid_data().items() if k != "version"},
    "wrong version": _mutated(version=99),
    "version as text": _mutated(version="1"),
    "no jobs": {k: v for k, v in _valid_data().items() if k != "jobs"},
    "no edges": {k: v for k, v in _valid_data().items() if k != "edges"},
    "jobs not a list": _mutated(jobs={"1": {}}),
    "edges not a list": _mutated(edges="1->2"),
    "callbacks not an object": _mutated(callbacks=[]),
    "callbacks of an event not a list": _mutated(callbacks={"on_finished": {}}),
    "callback not a job": _mutated(callbacks={"on_finished": [3]}),
    "unknown callback event": _mutated(callbacks={"on_started": []}),
    "job not an object": _mutated(jobs=[1, 2]),
    "job without name": _mutated(jobs=[{"identity": "1"}]),
    "job name a number": _with_job(0, name=5),
    "job args an object": _with_job(0, args={"a": 1}),
    "job kwargs a list": _with_job(0, kwargs=[1]),
    "job identity a number": _with_job(0, identity=1),
    "job identity missing": _with_job(0, identity=None),
    "job identity a list": _with_job(0, identity=["1"]),
    "job unknown key": _with_job(0, color="red"),
    "job inputs a string": _with_job(3, inputs="words"),
    "job input a triple": _with_job(3, inputs=[["a", "b", "c"]]),
    "job not importable": _with_job(0, name="tests.jobs.core.no_such_job"),
    "job module missing": _with_job(0, name="tests.no_such_module.job"),
    "job a lambda": _with_job(0, name="tests.jobs.core.<lambda>"),
    "job args unfit": _with_job(0, args=[1, 2, 3]),
    "duplicate identities": _mutated(jobs=[_valid_data()["jobs"][0], _valid_data()["jobs"][0]]),
    "edge to unknown job": _mutated(edges=[["1", "99"]]),
    "edge from unknown job": _mutated(edges=[["99", "1"]]),
    "edge of numbers": _mutated(edges=[[1, 2]]),
    "edge of one end": _mutated(edges=[["1"]]),
    "edge of three ends": _mutated(edges=[["1", "2", "3"]]),
    "edge a string": _mutated(edges=["12"]),
    "edge an object": _mutated(edges=[{"1": "2"}]),
    "edge a self loop": _mutated(edges=[["1", "1"]]),
    "edges form a cycle": _mutated(edges=[["1", "2"], ["2", "3"], ["3", "1"], ["2", "4"], ["3", "4"]]),
    "edges missing so inputs lack producers": _mutated(edges=[]),
    "structure unknown job": _mutated(structure={"chain": ["1", "99"]}),
    "structure unknown kind": _mutated(structure={"loop": ["1"]}),
    "structure empty": _mutated(structure={"chain": []}),
    "structure a number": _mutated(structure=5),
    "structure a null member": _mutated(structure={"chain": [None, "4"]}),
    "structure two kinds": _mutated(structure={"chain": ["1"], "group": ["2"]}),
    "params a list": _mutated(params=[1]),
    "params bad name": _mutated(params={"not a name": 1}),
    "params reserved name": _mutated(params={"job_id": 1}),
    "params clash with an output": _mutated(params={"words": 1}),
}


@pytest.mark.parametrize("data", list(MALFORMED.values()), ids=list(MALFORMED))
def test_deserialize_of_malformed_data_raises_invalid_workflow(data):
    with pytest.raises(InvalidWorkflow):
        Workflow.deserialize(data)


def test_deserialize_of_deeply_nested_json_raises_invalid_workflow():
    with pytest.raises(InvalidWorkflow):
        Workflow.deserialize("[" * 100_000 + "]" * 100_000)


def test_deserialize_does_not_change_the_data_given():
    data = _valid_data()
    snapshot = copy.deepcopy(data)
    Workflow.deserialize(data)
    assert data == snapshot


# --- validation: every error is InvalidWorkflow naming job id, function and input ---------------


def test_input_without_producer():
    invalid(lambda: Workflow(Chain(noop(), consume())), "job 2", "tests.jobs.core.consume", "'value'")


def test_producer_beside_consumer_in_a_group():
    error = invalid(
        lambda: Workflow(Group(produce(1), consume())), "job 2", "tests.jobs.core.consume", "'value'", "job 1"
    )
    assert "before" in str(error)


def test_producer_after_consumer():
    invalid(
        lambda: Workflow(Chain(consume(), produce(1))),
        "job 1",
        "tests.jobs.core.consume",
        "'value'",
        "job 2 (tests.jobs.scenario.produce)",
    )


def test_producer_in_a_parallel_branch():
    invalid(
        lambda: Workflow(Group(Chain(noop(), produce(1)), Chain(noop(), consume()))),
        "job 4",
        "tests.jobs.core.consume",
        "'value'",
    )


def test_one_producer_before_and_one_beside_is_refused():
    invalid(
        lambda: Workflow(Chain(produce(1), Group(produce(2), count_values_job()))),
        "job 3",
        "'value'",
    )


def count_values_job() -> Job:
    return Job("tests.jobs.core.plain_many").with_inputs(("value", "items"))


def test_single_valued_parameter_with_several_producers():
    error = invalid(
        lambda: Workflow(Chain(Group(uppercase("a"), uppercase("b")), take_one())),
        "job 3",
        "tests.jobs.core.take_one",
        "'words'",
    )
    assert "list[" in str(error)


@pytest.mark.parametrize("consumer", [count, count_typing_list, join_items], ids=lambda f: f.__name__)
def test_list_parameter_accepts_several_producers(consumer):
    workflow = Workflow(Chain(Group(uppercase("a"), uppercase("b"), uppercase("c")), consumer()))
    (binding,) = workflow.input_bindings("4")
    assert binding.output == "words"
    assert binding.producers == ("1", "2", "3")
    assert binding.many is True


def test_list_parameter_with_one_producer_still_gets_a_list_and_single_gets_one_value():
    assert Workflow(Chain(uppercase("a"), count())).input_bindings("2")[0].many is True
    assert Workflow(Chain(uppercase("a"), take_one())).input_bindings("2")[0].many is False


def test_renamed_input_binds_the_parameter():
    (binding,) = Workflow(Chain(produce(1), double())).input_bindings("2")
    assert (binding.output, binding.parameter, binding.producers, binding.many) == ("value", "number", ("1",), False)


def test_input_naming_a_missing_parameter():
    invalid(
        lambda: Workflow(wants_absent_parameter(1)),
        "job 1",
        "tests.jobs.core.wants_absent_parameter",
        "'missing_param'",
    )


def test_renamed_input_naming_a_missing_parameter():
    invalid(
        lambda: Workflow(Chain(produce(1), double().with_inputs(("value", "nope")))),
        "job 2",
        "tests.jobs.scenario.double",
        "'value'",
        "'nope'",
    )


def test_any_input_name_fits_a_function_taking_keywords():
    workflow = Workflow(Chain(produce(1), Job("tests.jobs.core.takes_kwargs").with_inputs("value")))
    assert workflow.inputs == {"value"}


@pytest.mark.parametrize(
    "member, parts",
    [
        (produce, ["produce", "member 2", "call it"]),
        (jobs_core.plain, ["plain", "member 2"]),
        ("tests.jobs.core.noop", ["member 2", "str"]),
        (None, ["member 2", "NoneType"]),
        (42, ["member 2", "int"]),
    ],
    ids=["uncalled decorated job", "plain function", "string", "none", "number"],
)
def test_member_that_is_not_job_chain_or_group(member, parts):
    invalid(lambda: Chain(noop(), member), *parts)
    invalid(lambda: Group(noop(), member), *parts)


def test_workflow_root_must_be_a_job_chain_or_group():
    invalid(lambda: Workflow(produce), "JobFunction")
    invalid(lambda: Workflow([noop()]), "list")


def test_empty_containers_are_refused():
    invalid(lambda: Chain(), "Chain")
    invalid(lambda: Group(), "Group")


def test_cycle_in_explicit_graph():
    error = invalid(
        lambda: Workflow.from_graph({"a": noop(), "b": noop(), "c": noop()}, [("a", "b"), ("b", "c"), ("c", "a")]),
        "cycle",
    )
    assert {"a", "b", "c"} <= set(str(error).replace(">", " ").replace("-", " ").split())


@pytest.mark.parametrize(
    "bad_job, where, kind",
    [
        (produce({1, 2}), "args[0]", "set"),
        (produce((1, 2)), "args[0]", "tuple"),
        (produce(object()), "args[0]", "object"),
        (produce([1, {"deep": (1,)}]), "args[0][1]['deep']", "tuple"),
        (produce(value={1}), "kwargs['value']", "set"),
        (produce(float("nan")), "args[0]", "nan"),
        (produce({1: "int key"}), "args[0]", "key"),
    ],
    ids=["set", "tuple", "object", "nested tuple", "kwarg set", "nan", "int key"],
)
def test_non_json_safe_arguments(bad_job, where, kind):
    invalid(lambda: Workflow(Chain(noop(), bad_job)), "job 2", "tests.jobs.scenario.produce", where, kind)


def test_lambda_as_job_is_not_importable():
    invalid(lambda: Workflow(Job.from_function(lambda: None)), "job 1", "<lambda>", "importable")


def test_nested_function_as_job_is_not_importable():
    @job(output="value")
    def inner():
        return None

    invalid(lambda: Workflow(Chain(noop(), inner())), "job 2", "<locals>.inner", "importable")


def test_unknown_function_is_not_importable():
    invalid(lambda: Workflow(Job("tests.jobs.core.no_such_job")), "job 1", "tests.jobs.core.no_such_job")
    invalid(lambda: Workflow(Job("noimport")), "job 1", "noimport")


def test_reserved_inputs_need_no_producer():
    workflow = Workflow(introspect())
    assert workflow.inputs == set()
    assert {b.output for b in workflow.input_bindings("1")} == {
        "job_id",
        "workflow_id",
        "workflow",
        "job_state",
        "workflow_state",
    }
    assert all(b.producers is None for b in workflow.input_bindings("1"))


def test_reserved_name_as_output_is_refused():
    invalid(lambda: Workflow(produce(1).with_output("job_id")), "job 1", "tests.jobs.scenario.produce", "'job_id'")


@pytest.mark.parametrize(
    "bad_job, detail",
    [
        (needs_two(1), "'b'"),
        (needs_two(), "'a'"),
        (needs_two(1, 2, 3), "too many"),
        (needs_two(1, b=2, c=3), "'c'"),
    ],
    ids=["missing b", "missing both", "too many", "unexpected keyword"],
)
def test_arguments_that_do_not_fit_the_function(bad_job, detail):
    invalid(lambda: Workflow(Chain(noop(), bad_job)), "job 2", "tests.jobs.core.needs_two", detail)


def test_an_input_fills_a_required_argument():
    Workflow(Chain(produce(1), Job("tests.jobs.core.needs_two", args=(1,)).with_inputs(("value", "b"))))


def test_same_parameter_fed_twice_is_refused():
    invalid(
        lambda: Workflow(
            Chain(produce(1), uppercase("x"), double().with_inputs(("value", "number"), ("words", "number")))
        ),
        "job 3",
        "tests.jobs.scenario.double",
        "'number'",
    )


# --- property: malformed data only ever raises InvalidWorkflow --------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=16,
)


def _paths(value, prefix=()):
    """Every path (tuple of keys/indexes) into a JSON value."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


_BASE = json.loads(rich_workflow().serialize())
_BASE_PATHS = [p for p in _paths(_BASE) if p]


def _replace_at(data, path, value):
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def _accepts_or_refuses(load, data):
    with contextlib.suppress(InvalidWorkflow):
        load(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_only_raises_invalid_workflow(value):
    _accepts_or_refuses(Workflow.deserialize, value)
    _accepts_or_refuses(Workflow.deserialize, json.dumps(value))
    _accepts_or_refuses(Job.deserialize, value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_BASE_PATHS), json_values)
def test_a_valid_workflow_with_one_part_replaced_only_raises_invalid_workflow(path, value):
    data = _replace_at(_BASE, path, value)
    _accepts_or_refuses(Workflow.deserialize, data)
    _accepts_or_refuses(Workflow.deserialize, json.dumps(data))
    if path[0] == "jobs" and len(path) >= 2:
        _accepts_or_refuses(Job.deserialize, data["jobs"][path[1]])


# --- what is built must serialize and read back -------------------------------------------------


def test_non_json_safe_meta_is_refused_when_the_workflow_is_built():
    # Otherwise the workflow builds, and serialize() fails later with a bare TypeError.
    invalid(
        lambda: Workflow(Chain(noop(), produce(1).with_meta(tags={"a", "b"}))), "job 2", "tests.jobs.scenario.produce"
    )


@pytest.mark.parametrize("output", [5, ["a"]], ids=repr)
def test_non_string_output_is_refused_when_the_workflow_is_built(output):
    # Otherwise output=5 builds and serializes, but Workflow.deserialize refuses its own output,
    # and output=["a"] escapes as TypeError (unhashable) instead of InvalidWorkflow.
    invalid(lambda: Workflow(Chain(noop(), produce(1).with_output(output))), "job 2", "tests.jobs.scenario.produce")


def test_every_workflow_that_builds_reads_back():
    built = Workflow(Chain(noop(), produce(1).with_meta(owner="me", retries=[1, 2])))
    assert Workflow.deserialize(built.serialize()) == built


def test_one_error_lists_the_problem_of_every_invalid_job():
    """Workflow() checks every job before it raises, so a user (or hymir validate) sees them all at once."""
    with pytest.raises(InvalidWorkflow) as raised:
        Workflow(Chain(consume(), produce(("a", "tuple")), produce(1)))
    problems = raised.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("job 1 (") and "input 'value': its producer" in problems[0]
    assert problems[1].startswith("job 2 (") and "is not JSON-safe" in problems[1]
    assert str(raised.value).splitlines() == problems


def test_a_single_problem_is_the_whole_message():
    with pytest.raises(InvalidWorkflow) as raised:
        Workflow(Chain(produce(("a", "tuple"))))
    assert raised.value.problems == [str(raised.value)]
