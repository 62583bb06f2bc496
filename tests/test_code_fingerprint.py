"""A Hymir DAG carries a fingerprint of its jobs' code: Airflow records a new DAG version exactly when it changes.

Each parse runs in a fresh process, as the dag-processor's do, and registers the DAG in the
session's metadata database the way the dag-processor does; the DAG versions Airflow keeps are
counted after each parse.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow
pytest.importorskip("airflow")

ROOT = Path(__file__).resolve().parent.parent

JOBS = '''
from hymir import Success, job


@job(output="greeting")
def greet(name: str):
    """Greet someone."""
    return Success({body})
'''

PARSE = """
import json, sys
from airflow.models.dag_version import DagVersion
from hymir_airflow.compat import dag_serializer
from airflow.utils.session import create_session
from sqlalchemy import func, select

from hymir import Workflow
from hymir_airflow import workflow_to_dag
from hymir_airflow.backends.database import ensure_database
from hymir_airflow.compat import register_dag
import fingerprint_jobs

ensure_database()
dag = workflow_to_dag(Workflow(fingerprint_jobs.greet("Ada")), dag_id=sys.argv[1])
register_dag(dag)
if sys.argv[2] == "run":
    dag.test()
with create_session() as session:
    versions = session.scalar(select(func.count()).select_from(DagVersion).where(DagVersion.dag_id == sys.argv[1]))
task = dag_serializer().to_dict(dag)["dag"]["tasks"][0]["__var"]
print(json.dumps({"versions": versions, "code": task["hymir_code"]}))
"""


def parse(folder: Path, dag_id: str, body: str, run: bool = False) -> dict:
    """Write the job module with ``body`` as the greeting, then parse and register the DAG in a new process.

    With ``run``, the DAG is also run once: Airflow updates a DAG version that has no run in place,
    and keeps it (making a new one for new code) once a run used it.
    """
    (folder / "fingerprint_jobs.py").write_text(textwrap.dedent(JOBS.format(body=body)))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        # The dag-processor skips writing a DAG serialized less than 30 s ago; parses here are seconds apart.
        "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "0",
    }
    done = subprocess.run(
        [sys.executable, "-c", PARSE, dag_id, "run" if run else "parse"],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    return json.loads(done.stdout.strip().splitlines()[-1])


def test_same_code_keeps_the_version_and_changed_code_makes_a_new_one(tmp_path):
    dag_id = f"fingerprint_{tmp_path.name[-8:]}".replace("-", "_")
    first = parse(tmp_path, dag_id, '"hello " + name', run=True)
    again = parse(tmp_path, dag_id, '"hello " + name')
    changed = parse(tmp_path, dag_id, '"good morning " + name')

    assert first["versions"] == 1
    assert again == first, "parsing the same code twice must not make a new DAG version"
    assert changed["code"] != first["code"]
    assert changed["versions"] == 2, "a job whose body changed must make a new DAG version"
