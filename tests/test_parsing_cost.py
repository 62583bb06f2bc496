"""What parsing the example DAG files costs Airflow: only the DAG a worker runs is built, and the
whole dags folder loads well within Airflow's import timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("airflow")

from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import conf

# The variable that Airflow's task runner sets while a worker parses a DAG file for a task.
from airflow.sdk.definitions.context import _AIRFLOW_PARSING_CONTEXT_DAG_ID

import hymir.examples.tenants
from hymir_airflow import dags_for

pytestmark = pytest.mark.airflow

DAGS = Path(__file__).resolve().parent.parent / "dags"
TENANT_DAG_IDS = sorted(f"hymir_tenant_{tenant}" for tenant in hymir.examples.tenants.TENANTS)

#: The share of ``[core] dagbag_import_timeout`` that loading every example DAG file may take.
PARSING_BUDGET = 0.10

#: Loads a dags folder with DagBag after importing Airflow, and prints how long that took.
LOAD_DAGS_FOLDER = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "dag_ids": bag.dag_ids, "import_errors": bag.import_errors}))
"""


@pytest.fixture
def builds(monkeypatch) -> list[str]:
    """The tenants whose workflow the tenants DAG file builds, in order."""
    built: list[str] = []
    build = hymir.examples.tenants.tenant_workflow

    def counting(tenant: str):
        built.append(tenant)
        return build(tenant)

    monkeypatch.setattr(hymir.examples.tenants, "tenant_workflow", counting)
    return built


def load_tenants_file() -> DagBag:
    bag = DagBag(dag_folder=str(DAGS / "hymir_tenants.py"))
    assert bag.import_errors == {}
    return bag


def test_a_worker_parsing_the_tenants_file_builds_only_the_dag_it_runs(monkeypatch, builds):
    monkeypatch.setenv(_AIRFLOW_PARSING_CONTEXT_DAG_ID, "hymir_tenant_globex")

    bag = load_tenants_file()

    assert builds == ["globex"]
    assert bag.dag_ids == ["hymir_tenant_globex"]
    assert [task.task_id for task in bag.dags["hymir_tenant_globex"].tasks] == ["load_table", "total_rows"]


def test_without_a_parsing_context_every_tenant_dag_is_built(monkeypatch, builds):
    monkeypatch.delenv(_AIRFLOW_PARSING_CONTEXT_DAG_ID, raising=False)

    bag = load_tenants_file()

    assert sorted(builds) == sorted(hymir.examples.tenants.TENANTS)
    assert sorted(bag.dag_ids) == TENANT_DAG_IDS


def test_a_parsing_context_naming_another_files_dag_builds_nothing(monkeypatch, builds):
    monkeypatch.setenv(_AIRFLOW_PARSING_CONTEXT_DAG_ID, "hymir_words")

    assert dags_for({"hymir_tenant_acme": "acme"}, hymir.examples.tenants.tenant_workflow) == {}
    assert builds == []


def test_dags_for_passes_options_to_every_dag(monkeypatch, builds):
    monkeypatch.delenv(_AIRFLOW_PARSING_CONTEXT_DAG_ID, raising=False)

    dags = dags_for({"t_acme": "acme", "t_initech": "initech"}, hymir.examples.tenants.tenant_workflow, tags=["tenant"])

    assert builds == ["acme", "initech"]
    assert {dag_id: sorted(dag.tags) for dag_id, dag in dags.items()} == {
        "t_acme": ["hymir", "tenant"],
        "t_initech": ["hymir", "tenant"],
    }


def test_loading_every_example_dag_file_takes_a_small_share_of_the_import_timeout(monkeypatch):
    # A fresh interpreter, as the dag-processor parses files in processes of its own: the time
    # includes importing Hymir and the example modules, whatever other tests imported before.
    monkeypatch.delenv(_AIRFLOW_PARSING_CONTEXT_DAG_ID, raising=False)
    budget = PARSING_BUDGET * conf.getfloat("core", "dagbag_import_timeout")

    command = [sys.executable, "-c", LOAD_DAGS_FOLDER, str(DAGS)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["import_errors"] == {}
    assert len(loaded["dag_ids"]) >= len(list(DAGS.glob("*.py")))
    assert loaded["seconds"] <= budget, (
        f"loading the {len(loaded['dag_ids'])} DAGs of dags/ took {loaded['seconds']:.2f} s, more than "
        f"{PARSING_BUDGET:.0%} of dagbag_import_timeout ({budget:.2f} s)"
    )
