"""The README's run command and the launcher under it: they end with a clear error, never a hang."""

from __future__ import annotations

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
