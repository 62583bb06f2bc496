"""A worker's parse builds only the task it runs; every other parse builds the whole DAG, deterministically.

Every task run parses its DAG file again in its worker, with Airflow's parsing context naming
the DAG and the task (``airflow.sdk.get_parsing_context()``). The deployment test
(tests/test_deployments.py) runs every task of a workflow on Celery workers this way; these
tests pin what the factory builds under each context, and that two parses serialize alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow
pytest.importorskip("airflow")

from hymir import Chain, Group, Workflow  # noqa: E402
from hymir_airflow import workflow_to_dag  # noqa: E402
from tests.jobs import scenario as jobs  # noqa: E402
from tests.parsing_context import (  # noqa: E402
    _AIRFLOW_PARSING_CONTEXT_DAG_ID,
    _AIRFLOW_PARSING_CONTEXT_TASK_ID,
    set_parsing_context,
)

ROOT = Path(__file__).resolve().parent.parent


def sample_workflow(fail_fast: bool = False) -> Workflow:
    """Groups feeding a list consumer, a renamed input, params and an ON_FINISHED callback."""
    workflow = Workflow(
        Chain(Group(jobs.shout("a"), jobs.shout("b")), jobs.count_words(), jobs.produce(21), jobs.double()),
        params={"greeting": "hello", "name": "world"},
        fail_fast=fail_fast,
    )
    return workflow.on(Workflow.Callbacks.ON_FINISHED, jobs.report())


def parse(monkeypatch, dag_id: str | None, task_id: str | None, workflow: Workflow | None = None):
    set_parsing_context(monkeypatch, dag_id, task_id)
    return workflow_to_dag(workflow or sample_workflow(), dag_id="sample")


def test_without_a_parsing_context_the_whole_dag_is_built(monkeypatch):
    dag = parse(monkeypatch, None, None)
    assert sorted(dag.task_ids) == ["count_words", "double", "produce", "report", "shout", "shout_2"]
    assert dag.get_task("count_words").upstream_task_ids == {"shout", "shout_2"}
    assert dag.get_task("report").is_teardown
    assert dag.get_task("shout").task_group.group_id == "group_1"


def test_a_worker_builds_only_the_task_it_runs(monkeypatch):
    dag = parse(monkeypatch, "sample", "count_words")
    assert dag.task_ids == ["count_words"]
    task = dag.get_task("count_words")
    assert task.hymir_job_id == "3"
    assert task.job_task_ids == {
        "1": "shout",
        "2": "shout_2",
        "3": "count_words",
        "4": "produce",
        "5": "double",
        "6": "report",
    }, "the task still knows every producer's task id"
    assert set(dag.params) == {"greeting", "name"}
    assert task.retries == parse(monkeypatch, None, None).get_task("count_words").retries


def test_a_worker_running_a_callback_builds_it_as_a_teardown(monkeypatch):
    dag = parse(monkeypatch, "sample", "report")
    assert dag.task_ids == ["report"]
    assert dag.get_task("report").is_teardown


def test_a_worker_running_the_fail_fast_gate_builds_only_the_gate(monkeypatch):
    dag = parse(monkeypatch, "sample", "hymir_fail_fast", sample_workflow(fail_fast=True))
    assert dag.task_ids == ["hymir_fail_fast"]
    assert dag.get_task("hymir_fail_fast").is_teardown and dag.fail_fast


@pytest.mark.parametrize(
    "dag_id, task_id",
    [("sample", "no_such_task"), ("another_dag", "count_words"), ("sample", None)],
    ids=["unknown-task", "another-dag", "no-task"],
)
def test_any_other_context_builds_the_whole_dag(monkeypatch, dag_id, task_id):
    assert len(parse(monkeypatch, dag_id, task_id).task_ids) == 6


SERIALIZE = """
import json, sys
from hymir_airflow.compat import dag_serializer
from tests.test_worker_parse import sample_workflow
from hymir_airflow import workflow_to_dag

dag = workflow_to_dag(sample_workflow(fail_fast=True), dag_id="sample", tags=["b", "a"])
print(json.dumps(dag_serializer().to_dict(dag), sort_keys=True))
"""


def test_two_parses_serialize_the_same_dag():
    """Parses in two processes (different hash seeds, so sets iterate differently) give the same serialized DAG."""
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        for name in (_AIRFLOW_PARSING_CONTEXT_DAG_ID, _AIRFLOW_PARSING_CONTEXT_TASK_ID):
            env.pop(name, None)
        done = subprocess.run(
            [sys.executable, "-c", SERIALIZE], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.append(done.stdout.strip().splitlines()[-1])
    first, second = (json.loads(output) for output in outputs)
    assert len(first["dag"]["tasks"]) == 7
    assert first == second
