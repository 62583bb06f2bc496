"""Differential test: random small workflows give the same full record on LocalExecutor and on Airflow.

Hypothesis builds workflows of 1-6 ``scripted`` jobs nested in Chains and Groups; each job follows
a script of results, one per call (Success / Failure / Retry / CheckLater / raise ValueError), and
may read a list input made by jobs that always run before it. The same workflow runs on the
LocalExecutor (VirtualClock, no real sleeping) and on the session's in-process AirflowExecutor;
every job's calls are counted in a directory that each run receives as its ``counter_dir`` param,
so each engine's run starts from call 0. The rule pinned: one semantics, two engines — the run's
status, every job's status, retries, checks, context, exception (its stable part) and result,
and outputs() in order, are the same. A second test generates Maps of 0-4 items, each item with
a script of its own, and compares every item's record and the mapped job's too.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from hymir import Chain, Group, Map, Workflow
from tests.jobs import parity as pj
from tests.test_parity import airflow_watchdog

pytestmark = pytest.mark.airflow

#: Values a Success or Failure may carry: plain ones, and ones Airflow's XCom serde would alter.
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=5),
    st.sampled_from(["", "x", "größe ✓", "{{ 7 * 7 }}", 1.0, -0.0, 2**70, {"__type": "dict", "__var": {"a": 1}}]),
    st.lists(st.integers(min_value=0, max_value=3), max_size=2),
)

WAITING_STEP = st.one_of(
    st.tuples(st.just("retry"), st.sampled_from([0, 0.05]), st.integers(min_value=0, max_value=2)),
    st.tuples(
        st.just("check"),
        st.sampled_from([0, 1]),
        st.one_of(st.none(), st.fixed_dictionaries({"n": st.integers(min_value=0, max_value=3)})),
    ),
)
FINAL_STEP = st.one_of(
    st.tuples(st.just("success"), VALUES),
    st.tuples(st.just("failure"), VALUES),
    st.tuples(st.just("raise"), st.sampled_from(["boom", "größe"])),
)
#: A job's script: up to two waiting steps (retry or check later), then a step that ends it.
SCRIPTS = st.builds(
    lambda waits, last: [list(step) for step in [*waits, last]], st.lists(WAITING_STEP, max_size=2), FINAL_STEP
)

#: Nesting: a leaf is a job; a node is a Chain or Group of 1-3 members.
SHAPES = st.recursive(
    st.just("job"),
    lambda members: st.tuples(st.sampled_from(["chain", "group"]), st.lists(members, min_size=1, max_size=3)),
    max_leaves=6,
)

OUTPUT_NAMES = ["x", "y", "z"]


def _leaves(shape) -> int:
    return 1 if shape == "job" else sum(_leaves(member) for member in shape[1])


def _ancestors(shape, start: int = 0, before: frozenset = frozenset()) -> tuple[dict[int, frozenset], int]:
    """For each job index (definition order), the indexes of the jobs that always finish before it starts.

    In a Chain every job of an earlier member runs before every job of a later member; a Group
    adds nothing. Returns the mapping and the next free index.
    """
    if shape == "job":
        return {start: before}, start + 1
    kind, members = shape
    result: dict[int, frozenset] = {}
    index, earlier = start, before
    for member in members:
        found, following = _ancestors(member, index, earlier if kind == "chain" else before)
        result.update(found)
        if kind == "chain":
            earlier = earlier | frozenset(range(index, following))
        index = following
    return result, index


@st.composite
def workflows(draw) -> dict[str, Any]:
    """A JSON-safe description of a workflow: its shape, and per job a script, an output and a feed."""
    # The root is a Chain, so that later members can read what earlier ones produce.
    shape = draw(st.lists(SHAPES, min_size=1, max_size=3).map(lambda m: ("chain", m)).filter(lambda s: _leaves(s) <= 6))
    ancestors, count = _ancestors(shape)
    outputs = [draw(st.one_of(st.none(), st.sampled_from(OUTPUT_NAMES))) for _ in range(count)]
    jobs = []
    for index in range(count):
        eligible = [
            name
            for name in OUTPUT_NAMES
            if (producers := {i for i, output in enumerate(outputs) if output == name})
            and producers <= ancestors[index]
        ]
        jobs.append(
            {
                "script": draw(SCRIPTS),
                "output": outputs[index],
                # Where some output can feed this job, it does in about half the examples.
                "feed": draw(st.one_of(st.none(), st.sampled_from(eligible))) if eligible else None,
            }
        )
    return {"shape": shape, "jobs": jobs}


def build(description: dict[str, Any]) -> Workflow:
    """The Workflow a description stands for; jobs are numbered in definition order, as Workflow numbers them."""
    specs = iter(enumerate(description["jobs"]))

    def member(shape):
        if shape == "job":
            index, spec = next(specs)
            job = pj.scripted(f"job{index}", spec["script"])
            if spec["feed"] is not None:
                job = job.with_inputs("counter_dir", "job_state", (spec["feed"], "feed"))
            return job.with_output(spec["output"]) if spec["output"] else job
        kind, members = shape
        return (Chain if kind == "chain" else Group)(*(member(m) for m in members))

    return Workflow(member(description["shape"]), params={"counter_dir": ""})


def exception_kind(text: str | None) -> str | None:
    """The part of an exception both engines must agree on: a traceback's last line, else the first line."""
    if text is None:
        return None
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1] if lines[0].startswith("Traceback") else lines[0]


def record(executor, workflow: Workflow) -> dict[str, Any]:
    """Run ``workflow`` (with a fresh counter directory) and return everything the engine reports of it."""
    counter_dir = tempfile.mkdtemp(prefix="hymir-parity-")
    try:
        with airflow_watchdog(executor, workflow, after=90.0) as stuck:
            workflow_id = executor.run(workflow, params={"counter_dir": counter_dir})
            executor.wait(workflow_id, sleep=0.1, timeout=180)
        assert not stuck, f"the run was stuck waiting on Airflow: {stuck}"
        states = executor.job_states(workflow_id)
        return {
            "status": executor.workflow_state(workflow_id).status.value,
            "jobs": {
                job_id: {
                    "status": states[job_id].status.value,
                    "retries": states[job_id].retries,
                    "checks": states[job_id].checks,
                    "context": states[job_id].context,
                    "exception": exception_kind(states[job_id].exception),
                    "result": states[job_id].result,
                }
                for job_id in workflow.jobs
            },
            "outputs": executor.outputs(workflow_id),
        }
    finally:
        shutil.rmtree(counter_dir, ignore_errors=True)


_local = {}


def local_executor():
    """One LocalExecutor on a VirtualClock for every example (its time just moves on between runs)."""
    if "executor" not in _local:
        from hymir.clock import VirtualClock
        from hymir.executors.local import LocalExecutor

        _local["executor"] = LocalExecutor(clock=VirtualClock())
    return _local["executor"]


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    # Shrinking would rerun Airflow dozens of times; the first failing example is reported as found.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(description=workflows())
def test_both_engines_record_the_same_run(airflow_executor, description):
    """Rule: one semantics, two engines — the same workflow leaves the same record (repr-equal) on both."""
    note(f"workflow: {description}")
    workflow = build(description)
    local = record(local_executor(), workflow)
    airflow = record(airflow_executor, workflow)
    note(f"local:   {local}")
    note(f"airflow: {airflow}")

    assert airflow["status"] == local["status"]
    for job_id in workflow.jobs:
        assert repr(airflow["jobs"][job_id]) == repr(local["jobs"][job_id]), (
            f"job {job_id} differs\n  local:   {local['jobs'][job_id]!r}\n  airflow: {airflow['jobs'][job_id]!r}"
        )
    assert repr(airflow["outputs"]) == repr(local["outputs"])


@st.composite
def mapped_workflows(draw) -> dict[str, Any]:
    """A JSON-safe description of a Map: one script per item, its max_active, and whether a job gathers the items."""
    scripts = draw(st.lists(SCRIPTS, max_size=4))
    return {
        "items": [{"key": f"item{index}", "script": script} for index, script in enumerate(scripts)],
        "max_active": draw(st.sampled_from([None, 1, 2])),
        "gather": draw(st.booleans()),
    }


def build_map(description: dict[str, Any]) -> Workflow:
    """List the items, run each as an item of a Map, and gather their values (when the description says so)."""
    mapped = Map(pj.scripted_item(), over=("items", "item"), max_active=description["max_active"])
    members = [pj.list_items(description["items"]), mapped, *([pj.gather_items()] if description["gather"] else [])]
    return Workflow(Chain(*members), params={"counter_dir": ""})


def record_items(executor, workflow: Workflow) -> dict[str, Any]:
    """Run ``workflow`` and return what the engine reports of every job and every item, with the outputs."""
    counter_dir = tempfile.mkdtemp(prefix="hymir-parity-map-")
    try:
        with airflow_watchdog(executor, workflow, after=90.0) as stuck:
            workflow_id = executor.run(workflow, params={"counter_dir": counter_dir})
            executor.wait(workflow_id, sleep=0.1, timeout=180)
        assert not stuck, f"the run was stuck waiting on Airflow: {stuck}"
        states = executor.job_states(workflow_id)
        return {
            "status": executor.workflow_state(workflow_id).status.value,
            "jobs": {
                job_id: (
                    state.status.value,
                    state.retries,
                    state.checks,
                    state.context,
                    exception_kind(state.exception),
                    state.result,
                )
                for job_id, state in sorted(states.items())
            },
            "outputs": executor.outputs(workflow_id),
        }
    finally:
        shutil.rmtree(counter_dir, ignore_errors=True)


@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(description=mapped_workflows())
def test_both_engines_record_the_same_map(airflow_executor, description):
    """Rule: a Map means the same on both engines — every item's record, the mapped job's, and outputs in order."""
    note(f"map: {description}")
    workflow = build_map(description)
    local = record_items(local_executor(), workflow)
    airflow = record_items(airflow_executor, workflow)
    note(f"local:   {local}")
    note(f"airflow: {airflow}")

    assert airflow["status"] == local["status"]
    assert sorted(airflow["jobs"]) == sorted(local["jobs"]), "both report the same jobs and items"
    for job_id, seen in local["jobs"].items():
        assert repr(airflow["jobs"][job_id]) == repr(seen), (
            f"{job_id} differs\n  local:   {seen!r}\n  airflow: {airflow['jobs'][job_id]!r}"
        )
    assert repr(airflow["outputs"]) == repr(local["outputs"])
