"""The README's run command and the launcher under it: they end with a clear error, never a hang."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hymir_airflow.launcher import DeploymentError, LocalDeployment, free_port

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scripts" / "demo.py"

pytestmark = pytest.mark.airflow


@pytest.fixture
def taken_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_taken_port_is_refused_before_anything_starts(tmp_path, taken_port):
    deployment = LocalDeployment(home=tmp_path / "home", dags_folder=tmp_path, port=taken_port)

    with pytest.raises(DeploymentError, match=f"port {taken_port} on 127.0.0.1 is already in use"):
        deployment.start(report=lambda message: None)
    assert deployment.processes == {}


def test_the_demo_names_the_taken_port(taken_port):
    done = subprocess.run(
        [sys.executable, str(DEMO), "--port", str(taken_port)], capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 1
    assert f"port {taken_port} on 127.0.0.1 is already in use" in done.stderr


@pytest.mark.deployment
def test_a_component_that_cannot_start_is_named_with_its_log(tmp_path):
    deployment = LocalDeployment(
        home=tmp_path / "home", dags_folder=tmp_path, port=free_port(), executor="NoSuchExecutor"
    )

    with pytest.raises(DeploymentError) as failed:
        deployment.start(report=lambda message: None, timeout=90)

    message = str(failed.value)
    assert "exited with status" in message
    assert "component-logs" in message and ".log" in message
    assert deployment.processes == {}


@pytest.mark.deployment
def test_the_demo_runs_the_readme_example_end_to_end():
    done = subprocess.run(
        [sys.executable, str(DEMO), "--port", str(free_port())], capture_output=True, text=True, timeout=400
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert "==> triggered hymir_words" in done.stdout
    assert "workflow: success" in done.stdout
    assert "outputs:  {'words': ['HELLO', 'HYMIR', 'WORLD'], 'count': [3]}" in done.stdout
    assert "==> stopping scheduler" in done.stdout


@pytest.mark.deployment
def test_the_demo_runs_your_own_dag_and_stop_returns_with_the_port_free(tmp_path):
    # Job modules in a folder of their own (--jobs) and beside the DAG file, as a new user lays them out.
    jobs, dags = tmp_path / "jobs", tmp_path / "dags"
    jobs.mkdir()
    dags.mkdir()
    (jobs / "shout_jobs.py").write_text(
        "from hymir import Success, job\n\n\n"
        '@job(output="shouted")\n'
        "def shout(word: str):\n"
        "    return Success(word.upper() + '!')\n"
    )
    (dags / "shout_workflows.py").write_text(
        "from hymir import Chain, Workflow\nfrom shout_jobs import shout\n\n\n"
        "def shout_workflow():\n"
        "    return Workflow(Chain(shout('hey'), shout('you')))\n"
    )
    (dags / "shout_dag.py").write_text(
        "from shout_workflows import shout_workflow\nfrom hymir_airflow import workflow_to_dag\n\n"
        'dag = workflow_to_dag(shout_workflow(), dag_id="my_shout")\n'
    )
    port = free_port()
    options = ["--port", str(port), "--dags", str(dags), "--jobs", str(jobs)]

    try:
        done = subprocess.run(
            [sys.executable, str(DEMO), *options, "--dag", "my_shout", "--keep-running"],
            capture_output=True,
            text=True,
            timeout=400,
        )
        groups = json.loads((ROOT / "airflow-home" / "running.json").read_text())["process_groups"]
    finally:
        stopped = subprocess.run([sys.executable, str(DEMO), "--stop"], capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr[-3000:]
    assert "==> triggered my_shout" in done.stdout
    assert "outputs:  {'shouted': ['HEY!', 'YOU!']}" in done.stdout
    # An airflow command run by hand with this home sees the DAGs folder the demo used.
    assert f"dags_folder = {dags}" in (ROOT / "airflow-home" / "airflow.cfg").read_text()
    assert stopped.returncode == 0, stopped.stderr
    assert "==> stopping api-server" in stopped.stdout
    # --stop returned only once every process had exited and the port was free again.
    for pid in groups.values():
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_the_demo_names_a_dag_it_cannot_find_with_the_import_errors(tmp_path):
    (tmp_path / "broken_dag.py").write_text("from airflow.sdk import DAG\nimport no_such_job_module\n")

    done = subprocess.run(
        [sys.executable, str(DEMO), "--dags", str(tmp_path), "--dag", "my_flow"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1
    assert f"no DAG 'my_flow' in {tmp_path}; import errors:" in done.stderr
    assert "No module named 'no_such_job_module'" in done.stderr
