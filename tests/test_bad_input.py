"""Bad input never passes silently: malformed data, arbitrary nesting, unstorable and large outputs.

* arbitrary JSON fed to ``Workflow.deserialize`` / ``Job.deserialize`` raises only ``InvalidWorkflow``;
* arbitrary nested Chains and Groups give the same dependencies in ``Workflow.dependencies``, in the
  Airflow DAG and in the order the engines run the jobs;
* outputs JSON cannot carry fail the producing job with a message naming the job, output and reason;
* large outputs travel through Airflow's object-storage XCom backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hymir import Chain, Group, InvalidWorkflow, Job, JobStatus, Workflow, WorkflowStatus
from hymir.executors.local import LocalExecutor
from tests.jobs import reliability as jobs

ROOT = Path(__file__).resolve().parent.parent
QUICK = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TRIED: dict[str, int] = {}


def say(message: str) -> None:
    print(f"[bad input] {message}", flush=True)


def tried(kind: str) -> None:
    TRIED[kind] = TRIED.get(kind, 0) + 1


_LOCAL: list[LocalExecutor] = []


def local_executor() -> LocalExecutor:
    """One LocalExecutor (real clock) shared by the examples, so hypothesis does not pile up thread pools."""
    if not _LOCAL:
        _LOCAL.append(LocalExecutor(max_workers=4))
    return _LOCAL[0]


@pytest.fixture(scope="module", autouse=True)
def print_counts():
    yield
    say(f"inputs tried: {TRIED} (total {sum(TRIED.values())})")


# --- 1. arbitrary data for the deserializers ------------------------------------------------------

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
#: Job function names: valid ones, ones outside "tests", attribute paths out of a module, nonsense.
names = st.sampled_from(
    [
        "tests.jobs.reliability.step",
        "tests.jobs.reliability.seed",
        "tests.jobs.scenario.produce",
        "os.system",
        "hymir.examples.words.uppercase",
        "tests.jobs.reliability.os.system",
        "tests.jobs.reliability.json.loads",
        "tests.jobs.reliability.Opaque",
        "tests.jobs.reliability._EVENTS",
        "tests.jobs.reliability.step.function.__globals__",
        "tests.no_such_module.job",
        "tests",
        "tests.",
        "tests..step",
        "tests.jobs.reliability.<lambda>",
        "",
    ]
) | st.text(max_size=20)

job_like = st.fixed_dictionaries(
    {},
    optional={
        "name": names | json_values,
        "identity": st.sampled_from(["1", "2", "3", 1, None, "", True]) | json_values,
        "args": st.lists(json_values, max_size=3) | json_values,
        "kwargs": st.dictionaries(st.sampled_from(["token", "label", "x", "", "job_state"]), json_values, max_size=3)
        | json_values,
        "output": st.sampled_from(["value", "part", "seed", None]) | json_values,
        "inputs": st.lists(st.sampled_from(["seed", "part", "job_state", "nope"]) | json_values, max_size=3)
        | json_values,
        "meta": st.sampled_from([None, {}, {"airflow": {"retries": 1}}, {"airflow": {"bogus": 1}}]) | json_values,
        "surprise": json_values,
    },
)


def valid_data() -> dict:
    """A real serialized workflow: the starting point that mutations damage."""
    workflow = Workflow(Chain(jobs.seed(), Group(jobs.part(0), jobs.part(1)), jobs.total()))
    workflow.on(Workflow.Callbacks.ON_FINISHED, jobs.step("cleanup", 0))
    return workflow.to_dict()


@st.composite
def damaged_workflows(draw) -> dict:
    """A valid serialized workflow with a few of its parts replaced, removed or added."""
    data = json.loads(json.dumps(valid_data()))
    for _ in range(draw(st.integers(1, 3))):
        # Walk to a random container inside the data, then damage one of its entries.
        node = data
        while True:
            children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
            containers = [(key, value) for key, value in children if isinstance(value, (dict, list)) and value]
            if not containers or draw(st.booleans()):
                break
            _, node = draw(st.sampled_from(containers))
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace" and keys:
            key = draw(st.sampled_from(keys))
            node[key] = draw(json_values | names | job_like)
        elif action == "remove" and keys:
            del node[draw(st.sampled_from(keys))]
        elif isinstance(node, dict):
            node[draw(st.sampled_from(["name", "jobs", "edges", "structure", "extra", "chain", "group"]))] = draw(
                json_values | job_like
            )
        else:
            node.append(draw(json_values | job_like | names))
    return data


def deserialize_only_invalid_workflow(data) -> Workflow | None:
    """Deserialize; anything but success or InvalidWorkflow fails the test."""
    try:
        workflow = Workflow.deserialize(data, allowed_modules=["tests"])
    except InvalidWorkflow as error:
        assert str(error), "InvalidWorkflow without a message"  # noqa: PT017 (success is as welcome as this error)
        return None
    # What deserializes must be a workflow of allowed jobs that survives another round trip.
    assert all(job.name.startswith("tests.") for job in workflow.jobs.values())
    assert Workflow.deserialize(workflow.serialize(), allowed_modules=["tests"]) == workflow
    return workflow


@QUICK
@given(data=json_values | st.text() | st.binary())
def test_arbitrary_json_raises_only_invalid_workflow(data):
    tried("arbitrary JSON / text / bytes")
    deserialize_only_invalid_workflow(data if isinstance(data, (str, bytes)) else json.dumps(data))
    if isinstance(data, dict):
        deserialize_only_invalid_workflow(data)


@QUICK
@given(data=damaged_workflows())
def test_damaged_serialized_workflows_raise_only_invalid_workflow(data):
    tried("damaged serialized workflows")
    deserialize_only_invalid_workflow(data)
    deserialize_only_invalid_workflow(json.dumps(data))


@QUICK
@given(data=job_like | json_values)
def test_arbitrary_job_data_raises_only_invalid_workflow(data):
    tried("job dicts")
    try:
        job = Job.deserialize(data)
    except InvalidWorkflow as error:
        assert str(error)  # noqa: PT017 (success is as welcome as this error)
        return
    assert isinstance(job.name, str)
    assert Job.deserialize(job.serialize()) == job


def test_deeply_nested_json_is_refused_not_crashing():
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InvalidWorkflow, match="malformed serialized workflow"):
        Workflow.deserialize(deep, allowed_modules=["tests"])
    structure = {"chain": ["1"]}
    for _ in range(5000):
        structure = {"group": [structure]}
    data = {**Workflow(Chain(jobs.seed())).to_dict(), "structure": structure}
    with pytest.raises(InvalidWorkflow):
        Workflow.deserialize(data, allowed_modules=["tests"])
    tried("deep nesting")
    say("100,000-deep JSON and a 5,000-deep structure are refused with InvalidWorkflow")


# --- 2. arbitrary nesting of Chains and Groups ---------------------------------------------------

#: A tree of "job" leaves and ("chain" | "group", [children]) nodes.
trees = st.recursive(
    st.just("job"),
    lambda children: st.tuples(st.sampled_from(["chain", "group"]), st.lists(children, min_size=1, max_size=4)),
    max_leaves=14,
)


def build(tree, token: str):
    """The Workflow of ``tree`` (jobs labelled 0, 1, ... in definition order) and each label's path."""
    paths: dict[int, list[tuple[int, str, int]]] = {}
    counter = iter(range(10_000))
    node_ids = iter(range(10_000))

    def make(node, path):
        if node == "job":
            label = next(counter)
            paths[label] = path
            return jobs.step(token, label)
        kind, children = node
        node_id = next(node_ids)
        members = [make(child, [*path, (node_id, kind, index)]) for index, child in enumerate(children)]
        return (Chain if kind == "chain" else Group)(*members)

    return Workflow(make(tree, [])), paths


def precedence(paths: dict[int, list]) -> set[tuple[int, int]]:
    """What the nesting means: a runs before b when they part in a Chain with a's branch first."""
    must = set()
    for a, path_a in paths.items():
        for b, path_b in paths.items():
            for (node_a, kind, index_a), (node_b, _, index_b) in zip(path_a, path_b, strict=False):
                if node_a != node_b:
                    break
                if index_a != index_b:
                    if kind == "chain" and index_a < index_b:
                        must.add((a, b))
                    break
    return must


def closure(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    reach = set(edges)
    while True:
        more = {(a, d) for a, b in reach for c, d in reach if b == c} - reach
        if not more:
            return reach
        reach |= more


def workflow_edges(workflow: Workflow) -> set[tuple[str, str]]:
    return {(upstream, job_id) for job_id, predecessors in workflow.dependencies for upstream in predecessors}


def label_of(workflow: Workflow) -> dict[str, int]:
    return {job_id: job.args[1] for job_id, job in workflow.jobs.items()}


def check_order(workflow: Workflow, token: str, must: set[tuple[int, int]]) -> None:
    """Every job ran once, and started only after each job that must precede it had finished."""
    starts, finishes = {}, {}
    for event, label, sequence in jobs.events(token):
        (starts if event == "start" else finishes).setdefault(label, []).append(sequence)
    labels = set(label_of(workflow).values())
    assert {label: len(seq) for label, seq in starts.items()} == dict.fromkeys(labels, 1)
    assert set(finishes) == labels
    for a, b in must:
        assert starts[b][0] > finishes[a][0], f"job labelled {b} started before {a} finished"


@QUICK
@given(tree=trees)
def test_nesting_gives_the_same_order_in_the_workflow_and_the_local_executor(tree):
    tried("Chain/Group nestings (LocalExecutor)")
    token = uuid.uuid4().hex
    workflow, paths = build(tree, token)
    must = precedence(paths)
    labels = label_of(workflow)
    edges = workflow_edges(workflow)
    # Workflow.dependencies: exactly the precedences of the nesting, once made transitive.
    assert {(labels[a], labels[b]) for a, b in closure(edges)} == must
    # ... listed in an order where every job follows its predecessors.
    position = {job_id: index for index, (job_id, _) in enumerate(workflow.dependencies)}
    assert all(position[a] < position[b] for a, b in edges)
    # The LocalExecutor starts each job only after everything it must follow has finished.
    executor = local_executor()
    run_id = executor.run(workflow)
    assert executor.wait(run_id, timeout=60).status is WorkflowStatus.SUCCESS
    check_order(workflow, token, must)
    executor.clear(run_id)


@pytest.mark.airflow
@QUICK
@given(tree=trees, task_groups=st.booleans())
def test_nesting_gives_the_same_edges_in_the_airflow_dag(tree, task_groups):
    pytest.importorskip("airflow")
    from hymir_airflow import workflow_to_dag

    tried("Chain/Group nestings (Airflow DAG)")
    workflow, _ = build(tree, "dag")
    dag = workflow_to_dag(workflow, dag_id="hymir_nesting", task_groups=task_groups)
    by_task = {task.task_id: task.hymir_job_id for task in dag.tasks}
    assert sorted(by_task.values()) == sorted(workflow.jobs)
    dag_edges = {
        (by_task[upstream], by_task[task.task_id]) for task in dag.tasks for upstream in task.upstream_task_ids
    }
    assert dag_edges == workflow_edges(workflow)


@pytest.mark.airflow
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees.filter(lambda tree: not isinstance(tree, str)))
def test_nesting_runs_in_order_on_airflow(tree, airflow_executor):
    """A few nestings run with dag.test: Airflow too starts a job only after its predecessors finished."""
    tried("Chain/Group nestings (dag.test)")
    token = uuid.uuid4().hex
    workflow, paths = build(tree, token)
    run_id = airflow_executor.run(workflow)
    assert airflow_executor.workflow_state(run_id).status is WorkflowStatus.SUCCESS
    check_order(workflow, token, precedence(paths))


# --- 3. outputs JSON cannot carry ----------------------------------------------------------------

REASONS = {
    "set": "the value is of type set, which is not JSON-safe",
    "tuple": "the value is of type tuple, which is not JSON-safe (use a list)",
    "nan": "the value is nan, which JSON cannot represent",
    "infinity": "the value is inf, which JSON cannot represent",
    "bytes": "the value is of type bytes, which is not JSON-safe",
    "int-key": "the value has the key 1 of type int; JSON keys must be strings",
    "object": "the value is of type Opaque, which is not JSON-safe",
    "nested-set": "the value['rows'][1]['tags'] is of type set, which is not JSON-safe",
}
PREFIX = "job 1 (tests.jobs.reliability.unsafe_output): output 'value' cannot be stored: "


@pytest.mark.parametrize("kind", list(REASONS))
def test_unsafe_output_fails_the_job_on_the_local_executor(kind):
    tried("unsafe outputs (LocalExecutor)")
    executor = local_executor()
    run_id = executor.run(Workflow(Chain(jobs.unsafe_output(kind), jobs.step("after-unsafe", 0))))
    assert executor.wait(run_id, timeout=30).status is WorkflowStatus.FAILURE
    state = executor.job_state(run_id, "1")
    assert state.status is JobStatus.FAILURE and state.retries == 0
    assert PREFIX + REASONS[kind] in state.exception
    assert executor.job_state(run_id, "2").status is JobStatus.PENDING
    assert executor.outputs(run_id) == {}


@pytest.mark.airflow
@pytest.mark.parametrize("kind", ["set", "nan", "nested-set"])
def test_unsafe_output_fails_the_task_on_airflow(kind, airflow_executor, capfd):
    tried("unsafe outputs (Airflow)")
    capfd.readouterr()
    run_id = airflow_executor.run(Workflow(Chain(jobs.unsafe_output(kind), jobs.step("after-unsafe", 0))))
    log = "".join(capfd.readouterr())
    state = airflow_executor.job_state(run_id, "1")
    say(f"{kind}: {state.status.value}, retries={state.retries}, exception={state.exception!r}")
    assert airflow_executor.workflow_state(run_id).status is WorkflowStatus.FAILURE
    assert state.status is JobStatus.FAILURE and state.retries == 0
    assert PREFIX + REASONS[kind] in state.exception
    assert PREFIX + REASONS[kind] in log, "the task log does not name the job, the output and the reason"
    assert airflow_executor.job_state(run_id, "2").status is JobStatus.PENDING
    assert airflow_executor.outputs(run_id) == {}


# --- 4. large outputs through Airflow's object-storage XCom backend --------------------------------

OBJECT_STORAGE_RUN = r'''
import json, os, sys
from hymir import Chain, Workflow
from hymir_airflow import AirflowExecutor
from tests.jobs.reliability import many_numbers, receive_numbers

notes = sys.argv[1]
executor = AirflowExecutor()
run_id = executor.run(Workflow(Chain(many_numbers(1000), receive_numbers(note_dir=notes))))
states = executor.job_states(run_id)
outcome = {
    "state": executor.workflow_state(run_id).status.value,
    "statuses": {job_id: state.status.value for job_id, state in states.items()},
    "consumer_result": states["2"].result,
    "outputs": executor.outputs(run_id),
}

# The same run read back as the remote AirflowExecutor reads a deployment: through the REST API
# (an in-process api-server app; the simple auth manager lets everyone in as admin here).
from fastapi.testclient import TestClient
from airflow.api_fastapi.app import create_app
from hymir_airflow.backends.rest import RestBackend

rest = RestBackend.__new__(RestBackend)
rest.api_url, rest.unpause = "http://testserver", False
rest._client = TestClient(create_app(), base_url="http://testserver/api/v2")
outcome["rest_values"] = rest.return_values(executor.dag_id(run_id), run_id, ["many_numbers", "receive_numbers"])
print("OUTCOME " + json.dumps(outcome))
'''


@pytest.fixture(scope="module")
def object_storage_run(tmp_path_factory):
    pytest.importorskip("airflow.providers.common.io")
    home = tmp_path_factory.mktemp("xcom-object-storage")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__XCOM_BACKEND": "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend",
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH": f"file://{home}/xcom",
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD": "10",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
    }
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    done = subprocess.run(
        [sys.executable, "-c", OBJECT_STORAGE_RUN, str(home / "notes")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("OUTCOME ")]
    assert done.returncode == 0 and lines, f"the run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    outcome = json.loads(lines[-1][len("OUTCOME ") :])
    stored = [path for path in (home / "xcom").rglob("*") if path.is_file()]
    received = json.loads((home / "notes" / "received.json").read_text())["value"]
    return outcome, stored, received


@pytest.mark.airflow
def test_large_output_travels_through_object_storage(object_storage_run):
    outcome, stored, received = object_storage_run
    tried("large outputs (object storage)")
    say(
        f"object storage: run {outcome['state']}; files under the XCom path: {[p.name for p in stored]}; "
        f"the consumer received {len(received)} numbers and returned {outcome['consumer_result']}; "
        f"read back in-process: {str(outcome['outputs'])[:80]}..."
    )
    assert outcome["state"] == "success" and set(outcome["statuses"].values()) == {"success"}
    assert received == list(range(1000)), "the consumer did not receive the full value"
    assert outcome["consumer_result"] == 1000
    assert len(stored) == 1 and json.loads(stored[0].read_text()) == list(range(1000))
    # In-process read-back resolves the stored reference through the configured backend.
    assert outcome["outputs"] == {"numbers": [list(range(1000))], "received": [1000]}


@pytest.mark.airflow
def test_rest_read_back_resolves_object_storage_references(object_storage_run):
    outcome, _, _ = object_storage_run
    say(f"read back through the REST API: {str(outcome['rest_values'])[:160]}")
    assert outcome["rest_values"] == {"many_numbers": list(range(1000)), "receive_numbers": 1000}
