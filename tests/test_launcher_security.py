"""Security of the deployments that ``hymir_airflow.launcher`` starts.

Their secret files are readable by their owner only, and nothing listens beyond 127.0.0.1.

The checks run on the session's real deployments (tests/deployment_fixtures.py) after they started,
and on a home whose files were made readable by everyone beforehand.
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from hymir_airflow.launcher import PASSWORDS_FILE, LocalDeployment

pytestmark = [pytest.mark.airflow, pytest.mark.deployment]

SECRET_FILES = (PASSWORDS_FILE, ".jwt-secret", ".api-secret", ".fernet-key")


def say(message: str) -> None:
    print(f"[launcher security] {message}", flush=True)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secret_files_are_readable_by_their_owner_only_after_a_real_start(embedded):
    modes = {name: oct(mode(embedded.home / name)) for name in SECRET_FILES}
    say(f"modes after start: home {oct(mode(embedded.home))}, {modes}")
    assert modes == dict.fromkeys(SECRET_FILES, "0o600")
    assert mode(embedded.home) == 0o700


def test_modes_are_fixed_on_an_existing_home(tmp_path):
    """A home made earlier (or by hand) with files everyone can read is made private on the next start."""
    home = tmp_path / "airflow"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    for name in SECRET_FILES:
        # A Fernet key must be 32 bytes in URL-safe base64 to be one.
        (home / name).write_text(
            base64.urlsafe_b64encode(b"k" * 32).decode() if name == ".fernet-key" else "old-secret"
        )
        (home / name).chmod(0o644)
    deployment = LocalDeployment(home=home, dags_folder=tmp_path / "dags")
    deployment.prepare(report=say)
    assert {name: mode(home / name) for name in SECRET_FILES} == dict.fromkeys(SECRET_FILES, 384)
    assert mode(home) == 0o700
    assert (home / ".jwt-secret").read_text() == "old-secret", "an existing secret is kept, only its mode changes"
    assert deployment.password in (home / PASSWORDS_FILE).read_text()


def listening_sockets(deployment: LocalDeployment) -> list[tuple[str, str, int]]:
    """(process, address, port) of every listening TCP socket of the deployment's processes and their children."""
    import psutil

    groups = {process.pid for process in deployment.processes.values()}
    found = []
    for process in psutil.process_iter(["pid", "name", "cmdline"]):
        try:
            if os.getpgid(process.pid) not in groups:
                continue
            for connection in process.net_connections(kind="inet"):
                if connection.status == psutil.CONN_LISTEN:
                    command = " ".join(process.info["cmdline"] or [])[:60]
                    found.append((command, connection.laddr.ip, connection.laddr.port))
        except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
            continue
    return found


def assert_listens_on_localhost_only(deployment: LocalDeployment) -> None:
    sockets = listening_sockets(deployment)
    say(f"listening sockets: {sockets}")
    assert deployment.port in {port for _, _, port in sockets}, "the api-server's socket was not found"
    assert [entry for entry in sockets if entry[1] != "127.0.0.1"] == []


def test_no_component_of_the_embedded_deployment_listens_beyond_localhost(embedded):
    assert_listens_on_localhost_only(embedded)


@pytest.mark.slow
def test_no_component_of_the_distributed_deployment_listens_beyond_localhost(distributed):
    assert_listens_on_localhost_only(distributed)
