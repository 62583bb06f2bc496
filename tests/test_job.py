"""The hymir.job API exactly as the seed (seed/hymir.job.txt) fixes it."""

from __future__ import annotations

import dataclasses
import importlib
import json

import pytest

from hymir.errors import InvalidWorkflow, JobNotImportable
from hymir.job import CheckLater, Failure, Job, JobResult, Retry, Success, job
from tests.jobs import core as jobs_core

#: The module itself: ``import hymir.job as m`` would give the decorator (see the last test).
hymir_job = importlib.import_module("hymir.job")

# --- Job: fields, order, defaults ---------------------------------------------------------------


def test_job_fields_in_seed_order_with_seed_defaults():
    fields = dataclasses.fields(Job)
    assert [f.name for f in fields] == ["name", "identity", "args", "kwargs", "output", "inputs", "meta"]
    by_name = {f.name: f for f in fields}
    assert by_name["name"].default is dataclasses.MISSING
    assert by_name["name"].default_factory is dataclasses.MISSING
    for name in ("identity", "output", "inputs", "meta"):
        assert by_name[name].default is None, name
    assert by_name["args"].default_factory() == ()
    assert by_name["kwargs"].default_factory() == {}


def test_job_built_from_name_only_has_the_defaults():
    made = Job("tests.jobs.core.plain")
    assert made == Job(
        name="tests.jobs.core.plain", identity=None, args=(), kwargs={}, output=None, inputs=None, meta=None
    )


def test_job_name_is_required():
    with pytest.raises(TypeError):
        Job()


def test_kwargs_default_is_per_instance():
    first, second = Job("tests.jobs.core.plain"), Job("tests.jobs.core.plain")
    first.kwargs["x"] = 1
    assert second.kwargs == {}
    assert first.kwargs is not second.kwargs


# --- serialize / deserialize ---------------------------------------------------------------------


def test_serialize_is_json_safe_and_deserialize_restores_an_equal_job():
    original = Job(
        name="tests.jobs.core.join_items",
        identity="3",
        args=("a", 1, [2, 3]),
        kwargs={"flag": True, "nested": {"k": [None, 1.5]}},
        output="joined",
        inputs=["value", ("words", "items")],
        meta={"airflow": {"queue": "fast"}},
    )
    data = original.serialize()
    assert isinstance(data, dict)
    text = json.dumps(data)  # raises if anything is not JSON-safe
    restored = Job.deserialize(json.loads(text))
    assert restored == original
    assert restored.args == ("a", 1, [2, 3])
    assert isinstance(restored.args, tuple)
    assert restored.inputs == ["value", ("words", "items")]
    assert isinstance(restored.inputs[1], tuple)


def test_serialize_writes_every_field():
    data = Job("tests.jobs.core.plain", args=(1,), kwargs={"y": 3}).serialize()
    assert data == {
        "name": "tests.jobs.core.plain",
        "identity": None,
        "args": [1],
        "kwargs": {"y": 3},
        "output": None,
        "inputs": None,
        "meta": None,
    }


def test_deserialize_accepts_only_a_name():
    assert Job.deserialize({"name": "tests.jobs.core.plain"}) == Job("tests.jobs.core.plain")


def test_deserialize_round_trips_an_integer_identity():
    original = Job("tests.jobs.core.plain", identity=7)
    assert Job.deserialize(json.loads(json.dumps(original.serialize()))) == original


@pytest.mark.parametrize(
    "data",
    [
        None,
        "tests.jobs.core.plain",
        42,
        ["tests.jobs.core.plain"],
        {},
        {"identity": "1"},
        {"name": 5},
        {"name": None},
        {"name": True},
        {"name": "tests.jobs.core.plain", "bogus": 1},
        {"name": "tests.jobs.core.plain", "args": "abc"},
        {"name": "tests.jobs.core.plain", "args": {"a": 1}},
        {"name": "tests.jobs.core.plain", "kwargs": [1, 2]},
        {"name": "tests.jobs.core.plain", "kwargs": None},
        {"name": "tests.jobs.core.plain", "identity": 1.5},
        {"name": "tests.jobs.core.plain", "identity": True},
        {"name": "tests.jobs.core.plain", "identity": [1]},
        {"name": "tests.jobs.core.plain", "output": 3},
        {"name": "tests.jobs.core.plain", "inputs": "words"},
        {"name": "tests.jobs.core.plain", "inputs": [1]},
        {"name": "tests.jobs.core.plain", "inputs": [["a", "b", "c"]]},
        {"name": "tests.jobs.core.plain", "inputs": [["a", 1]]},
        {"name": "tests.jobs.core.plain", "inputs": [None]},
        {"name": "tests.jobs.core.plain", "meta": []},
        {"name": "tests.jobs.core.plain", "meta": "x"},
        {"name": "tests.jobs.core.plain", "kwargs": {1: "not a str key"}},
    ],
    ids=repr,
)
def test_deserialize_of_malformed_data_raises_invalid_workflow(data):
    with pytest.raises(InvalidWorkflow):
        Job.deserialize(data)


def test_deserialize_of_a_dict_with_mixed_unknown_keys_raises_invalid_workflow():
    # A Python dict (not JSON) may have keys of several types; the error must still be InvalidWorkflow.
    with pytest.raises(InvalidWorkflow, match="unknown keys"):
        Job.deserialize({"name": "tests.jobs.core.plain", 1: "x", "zz": 2})


def test_invalid_workflow_is_a_value_error():
    with pytest.raises(ValueError, match="'name' must be"):
        Job.deserialize({"name": 5})


# --- set / with_inputs / with_output / with_meta: new Jobs, no mutation ------------------------


def _base() -> Job:
    return Job(
        "tests.jobs.core.plain", identity="1", args=(1,), kwargs={"y": 2}, output="o", inputs=["a"], meta={"m": 1}
    )


def test_set_replaces_args_and_kwargs_and_leaves_the_original_alone():
    original = _base()
    snapshot = dataclasses.replace(original)
    changed = original.set(10, 20, z=3)
    assert changed is not original
    assert isinstance(changed, Job)
    assert changed.args == (10, 20)
    assert changed.kwargs == {"z": 3}
    assert (changed.name, changed.identity, changed.output, changed.inputs, changed.meta) == (
        "tests.jobs.core.plain",
        "1",
        "o",
        ["a"],
        {"m": 1},
    )
    assert original == snapshot


def test_set_without_arguments_clears_them():
    assert _base().set() == dataclasses.replace(_base(), args=(), kwargs={})


def test_with_inputs_binds_names_and_pairs_without_mutation():
    original = _base()
    changed = original.with_inputs("words", ("value", "number"))
    assert changed is not original
    assert changed.inputs == ["words", ("value", "number")]
    assert original.inputs == ["a"]
    assert changed.args == original.args and changed.kwargs == original.kwargs


@pytest.mark.parametrize("bad", [1, None, ("a",), ("a", "b", "c"), ("a", 2), ["a", "b"]], ids=repr)
def test_with_inputs_refuses_malformed_entries(bad):
    with pytest.raises(InvalidWorkflow):
        Job("tests.jobs.core.plain").with_inputs(bad)


def test_with_output_replaces_the_output_without_mutation():
    original = _base()
    changed = original.with_output("other")
    assert changed is not original
    assert changed.output == "other"
    assert original.output == "o"
    assert changed.with_output("third").output == "third"


def test_with_meta_merges_into_a_new_job_without_mutation():
    original = _base()
    changed = original.with_meta(team="data", m=2)
    assert changed is not original
    assert changed.meta == {"m": 2, "team": "data"}
    assert original.meta == {"m": 1}
    assert Job("tests.jobs.core.plain").with_meta(a=1).meta == {"a": 1}


def test_builders_chain():
    built = Job.from_function(jobs_core.plain).set(1, y=5).with_output("sum").with_inputs("x").with_meta(k="v")
    assert built == Job(
        "tests.jobs.core.plain", args=(1,), kwargs={"y": 5}, output="sum", inputs=["x"], meta={"k": "v"}
    )


# --- from_function -------------------------------------------------------------------------------


def test_from_function_records_the_dotted_name():
    made = Job.from_function(jobs_core.plain)
    assert made.name == "tests.jobs.core.plain"
    assert made.function is jobs_core.plain
    assert (made.args, made.kwargs, made.output, made.inputs, made.meta) == ((), {}, None, None, None)


def test_from_function_of_a_decorated_job_keeps_its_name_and_settings():
    made = Job.from_function(jobs_core.with_meta_job)
    assert made.name == "tests.jobs.core.with_meta_job"
    assert made.output == "value"
    assert made.meta == {"airflow": {"queue": "q1"}, "team": "data"}


def test_from_function_of_a_lambda_records_an_unimportable_name():
    made = Job.from_function(lambda: None)
    assert made.name.endswith("<lambda>")
    with pytest.raises(JobNotImportable):
        _ = made.function


def test_function_of_an_unknown_name_is_not_importable():
    with pytest.raises(JobNotImportable, match="no_such_function"):
        _ = Job("tests.jobs.core.no_such_function").function
    with pytest.raises(InvalidWorkflow):
        _ = Job("no_such_module_hymir_test.fn").function


# --- the @job decorator --------------------------------------------------------------------------


def test_calling_a_decorated_function_makes_a_job_bound_to_the_arguments():
    made = jobs_core.needs_two(1, b=2)
    assert isinstance(made, Job)
    assert made == Job("tests.jobs.core.needs_two", args=(1,), kwargs={"b": 2})


def test_decorated_function_exposes_the_plain_function():
    decorated = jobs_core.needs_two
    plain = decorated.function
    assert decorated.__wrapped__ is plain
    assert plain(1, 2) == Success(3)
    assert decorated.__name__ == "needs_two"
    assert decorated.__doc__ == "Needs two arguments."
    assert jobs_core.needs_two(1, 2).function is plain


def test_decorator_inputs_output_and_meta_are_carried_into_each_job():
    assert jobs_core.join_items() == Job(
        "tests.jobs.core.join_items", output="joined", inputs=[("words", "items")], meta=None
    )
    assert jobs_core.with_meta_job(5).meta == {"airflow": {"queue": "q1"}, "team": "data"}
    assert jobs_core.count().inputs == ["words"]
    assert jobs_core.count().output == "count"


def test_each_call_gets_its_own_inputs_and_meta():
    first = jobs_core.with_meta_job(1)
    first.meta["team"] = "changed"
    first_inputs = jobs_core.count().inputs
    first_inputs.append("extra")
    assert jobs_core.with_meta_job(2).meta == {"airflow": {"queue": "q1"}, "team": "data"}
    assert jobs_core.count().inputs == ["words"]


def test_decorator_takes_keywords_only():
    with pytest.raises(TypeError):
        job(["words"])


def test_decorator_without_settings():
    assert jobs_core.noop() == Job("tests.jobs.core.noop")


# --- results -------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [Success, Failure, Retry, CheckLater])
def test_results_are_job_results(cls):
    assert issubclass(cls, JobResult)
    assert isinstance(cls(), JobResult)


def test_success_and_failure_carry_an_optional_result():
    assert Success().result is None
    assert Failure().result is None
    assert Success(5).result == 5
    assert Failure("why").result == "why"
    assert Success(result=[1]).result == [1]
    assert Success(1) == Success(1) and Success(1) != Failure(1)


def test_retry_and_check_later_fields_are_keyword_only_with_none_defaults():
    assert [(f.name, f.default) for f in dataclasses.fields(Retry)] == [
        ("wait_min", None),
        ("wait_max", None),
        ("max_retries", None),
    ]
    assert [(f.name, f.default) for f in dataclasses.fields(CheckLater)] == [("wait_for", None), ("context", None)]
    with pytest.raises(TypeError):
        Retry(1, 2, 3)
    with pytest.raises(TypeError):
        CheckLater(5)
    retry = Retry(wait_min=1, wait_max=2, max_retries=3)
    assert (retry.wait_min, retry.wait_max, retry.max_retries) == (1, 2, 3)
    check = CheckLater(wait_for=10, context={"n": 1})
    assert (check.wait_for, check.context) == (10, {"n": 1})


def test_result_reprs_show_class_and_values():
    assert repr(Success(5)) == "Success(result=5)"
    assert repr(Failure("bad")) == "Failure(result='bad')"
    assert repr(Retry(wait_min=1, wait_max=2, max_retries=3)) == "Retry(wait_min=1, wait_max=2, max_retries=3)"
    assert repr(CheckLater(wait_for=10, context={"n": 1})) == "CheckLater(wait_for=10, context={'n': 1})"


@pytest.mark.parametrize(
    "retry, bounds",
    [
        (Retry(), (1, 5)),
        (Retry(wait_min=2), (2, 5)),
        (Retry(wait_min=10), (10, 10)),
        (Retry(wait_max=3), (1, 3)),
        (Retry(wait_max=0.5), (0.5, 0.5)),
        (Retry(wait_max=0), (0, 0)),
        (Retry(wait_min=0, wait_max=0), (0, 0)),
        (Retry(wait_min=2, wait_max=7), (2, 7)),
    ],
    ids=repr,
)
def test_retry_delay_bounds_fill_in_defaults(retry, bounds):
    low, high = retry.delay_bounds()
    assert (low, high) == bounds
    assert low <= high


def test_retry_delay_bound_defaults_are_the_module_constants():
    assert Retry().delay_bounds() == (hymir_job.DEFAULT_RETRY_WAIT_MIN, hymir_job.DEFAULT_RETRY_WAIT_MAX)


def test_reserved_inputs_are_the_documented_five():
    assert hymir_job.RESERVED_INPUTS == {"workflow_id", "job_id", "workflow", "job_state", "workflow_state"}


def test_seed_qualified_names_resolve_through_import_hymir_job():
    """The seed documents hymir.job.Success, hymir.job.job, ...: ``import hymir.job`` must reach them."""
    import hymir.job

    for name in ("CheckLater", "Failure", "Job", "JobResult", "Retry", "Success", "job"):
        assert getattr(hymir.job, name, None) is getattr(hymir_job, name), name
