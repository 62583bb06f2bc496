"""Start and stop a real Airflow deployment on this machine, for the demo and the integration tests.

Each component (api-server, scheduler, dag-processor, triggerer, and Celery workers when the
executor is Celery) runs as ``airflow <component>`` in its own process group with its own log
file, so stopping the deployment stops every process it started, workers included.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ADMIN = "admin"

#: Where Airflow's simple auth manager reads (and writes) each user's password, in AIRFLOW_HOME.
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


class DeploymentError(RuntimeError):
    """A component of the deployment could not start; the message names the log to read."""


@dataclass
class LocalDeployment:
    """An Airflow deployment on this machine: its home, database, executor and components.

    ``database_url`` defaults to SQLite inside ``home``; ``executor`` is ``LocalExecutor`` or
    ``CeleryExecutor`` (then ``broker_url`` and ``celery_workers`` say where tasks are queued and
    how many workers take them). ``password`` is written for the ``admin`` user before start.
    ``python_path`` lists folders every component imports from (job modules that are not installed),
    ahead of any ``PYTHONPATH`` already set.
    """

    home: Path
    dags_folder: Path
    port: int = 8080
    executor: str = "LocalExecutor"
    database_url: str | None = None
    broker_url: str | None = None
    celery_workers: int = 0
    worker_concurrency: int = 4
    parallelism: int = 4
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    python_path: list[Path] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, init=False)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_folder(self) -> Path:
        return self.home / "component-logs"

    def env(self) -> dict[str, str]:
        """The environment every component runs with."""
        database_url = self.database_url or f"sqlite:///{self.home / 'airflow.db'}"
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.home),
            **{_variable(section, key): value for (section, key), value in self.settings().items()},
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            "AIRFLOW__API__SECRET_KEY": self._secret("api-secret"),
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt-secret"),
            # Airflow encrypts connections and variables with it, and Hymir the job contexts it seals.
            "AIRFLOW__CORE__FERNET_KEY": self._secret("fernet-key", _fernet_key),
        }
        if self.python_path:
            env["PYTHONPATH"] = os.pathsep.join([*map(str, self.python_path), os.environ.get("PYTHONPATH", "")])
        if self.executor == "CeleryExecutor":
            env["AIRFLOW__CELERY__BROKER_URL"] = self.broker_url or "redis://127.0.0.1:6379/0"
            env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + database_url
            env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(self.worker_concurrency)
        env.update(self.extra_env)
        return env

    def settings(self) -> dict[tuple[str, str], str]:
        """The deployment's configuration without secrets or database URL, as (section, key) -> value.

        Components get them as ``AIRFLOW__SECTION__KEY`` variables, and ``prepare()`` writes them
        into the home's ``airflow.cfg``, so that an ``airflow`` command run by hand with this
        ``AIRFLOW_HOME`` sees the same DAGs folder, executor and API address as the deployment.
        """
        return {
            ("core", "dags_folder"): str(self.dags_folder),
            ("core", "load_examples"): "False",
            ("core", "executor"): self.executor,
            ("core", "parallelism"): str(self.parallelism),
            ("core", "simple_auth_manager_users"): f"{ADMIN}:admin",
            ("core", "execution_api_server_url"): f"{self.api_url}/execution/",
            ("api", "port"): str(self.port),
            ("api", "host"): "127.0.0.1",
            ("api", "base_url"): self.api_url,
            ("api", "workers"): "1",
            ("dag_processor", "refresh_interval"): "5",
            ("dag_processor", "min_file_process_interval"): "10",
            ("scheduler", "scheduler_idle_sleep_time"): "0.5",
        }

    def write_config(self) -> None:
        """Write ``settings()`` (and the SQLite database, when that is the one used) into ``airflow.cfg``."""
        sections: dict[str, list[str]] = {}
        for (section, key), value in self.settings().items():
            sections.setdefault(section, []).append(f"{key} = {value}")
        if self.database_url is None:
            sections["database"] = [f"sql_alchemy_conn = sqlite:///{self.home / 'airflow.db'}"]
        text = "# Written by hymir_airflow.launcher at each start; secrets stay in the components' environment.\n"
        text += "".join(f"\n[{section}]\n" + "\n".join(lines) + "\n" for section, lines in sections.items())
        write_private(self.home / "airflow.cfg", text)

    def _secret(self, name: str, make: Callable[[], str] = lambda: secrets.token_urlsafe(32)) -> str:
        """A secret shared by all components of this home, made once; readable by its owner only."""
        path = self.home / f".{name}"
        if not path.exists():
            write_private(path, make())
        path.chmod(PRIVATE_FILE)
        return path.read_text()

    def prepare(self, report: Callable[[str], None] = print) -> None:
        """Create the home (its owner's only), write the admin password, and migrate the metadata database.

        The home holds the metadata database, the logs and the secrets, so it is made ``0700`` and
        the secret files ``0600``, on a home made earlier too.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(PRIVATE_FOLDER)
        self.log_folder.mkdir(exist_ok=True)
        write_private(self.home / PASSWORDS_FILE, json.dumps({ADMIN: self.password}))
        self.write_config()
        log = self.log_folder / "db-migrate.log"
        report(f"migrating the metadata database (log: {log})")
        with open(log, "w") as output:
            done = subprocess.run(["airflow", "db", "migrate"], env=self.env(), stdout=output, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise DeploymentError(f"'airflow db migrate' failed (exit {done.returncode}); read {log}\n{_tail(log)}")

    def components(self) -> dict[str, list[str]]:
        """The command line of each component, by name.

        Nothing listens beyond 127.0.0.1: the api-server is bound there, and the log servers that
        the scheduler, triggerer and Celery workers would start on every interface (Airflow has no
        host setting for them) are skipped, since every component writes into this home's log
        folder, which the api-server reads itself.
        """
        commands = {
            "api-server": ["airflow", "api-server", "--port", str(self.port), "--host", "127.0.0.1"],
            "scheduler": ["airflow", "scheduler", "--skip-serve-logs"],
            "dag-processor": ["airflow", "dag-processor"],
            "triggerer": ["airflow", "triggerer", "--skip-serve-logs"],
        }
        for number in range(1, self.celery_workers + 1):
            commands[f"celery-worker-{number}"] = [
                "airflow",
                "celery",
                "worker",
                "--concurrency",
                str(self.worker_concurrency),
                "--celery-hostname",
                f"worker{number}@%h",
                "--without-mingle",
                "--without-gossip",
                "--skip-serve-logs",
            ]
        return commands

    def start(self, report: Callable[[str], None] = print, timeout: float = 120) -> None:
        """Start every component and wait until the API answers; stop them all if any fails."""
        if _port_taken(self.port):
            raise DeploymentError(
                f"port {self.port} on 127.0.0.1 is already in use (another Airflow?); stop it or choose another port"
            )
        self.prepare(report)
        try:
            for name, command in self.components().items():
                self.start_component(name, command, report)
            self._wait_until_healthy(timeout, report)
        except BaseException:
            self.stop(report)
            raise

    def start_component(self, name: str, command: list[str], report: Callable[[str], None] = print) -> None:
        """Start one component in its own process group, logging to its own file.

        The component sees its name in ``HYMIR_COMPONENT`` (tests use it to tell workers apart).
        """
        log = self.log_folder / f"{name}.log"
        report(f"starting {name} (log: {log})")
        # The child writes to its own copy of the descriptor, so this one can close once it started.
        with open(log, "ab") as output:
            self.processes[name] = subprocess.Popen(
                command,
                env={**self.env(), "HYMIR_COMPONENT": name},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.home,
            )
        output.close()

    def _wait_until_healthy(self, timeout: float, report: Callable[[str], None]) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_running()
            try:
                health = httpx.get(f"{self.api_url}/api/v2/monitor/health", timeout=2).json()
                statuses = {part: (health.get(part) or {}).get("status") for part in ("metadatabase", "scheduler")}
                if all(status == "healthy" for status in statuses.values()):
                    report(f"Airflow is up at {self.api_url}")
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(1)
        raise DeploymentError(
            f"Airflow did not become healthy within {timeout:.0f} s; read the logs in {self.log_folder}"
        )

    def check_running(self) -> None:
        """Raise DeploymentError, naming the log, when a component has exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = self.log_folder / f"{name}.log"
                raise DeploymentError(f"{name} exited with status {process.returncode}; read {log}\n{_tail(log)}")

    def stop_component(self, name: str, sig: int = signal.SIGTERM, grace: float = 15) -> None:
        """Stop one component and every process it started (its whole process group), waiting until all exited."""
        process = self.processes.pop(name, None)
        if process is not None:
            stop_group(process.pid, sig, grace, reap=process.poll)

    def stop(self, report: Callable[[str], None] = print) -> None:
        """Stop every component this deployment started; returns once they have exited and the port is free."""
        for name in reversed(list(self.processes)):
            report(f"stopping {name}")
            self.stop_component(name)
        _wait_until_free(self.port)

    def detach(self, state_file: Path) -> None:
        """Leave the components running and write what ``stop_detached`` needs to stop them later."""
        pids = {name: process.pid for name, process in self.processes.items()}
        state_file.write_text(json.dumps({"port": self.port, "process_groups": pids}))
        self.processes.clear()

    def __enter__(self) -> LocalDeployment:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def stop_detached(state_file: Path, report: Callable[[str], None] = print) -> bool:
    """Stop the components a ``detach()`` left running; False when ``state_file`` names none.

    Returns once every process has exited and the API port is free, so a new start finds it unused.
    """
    if not state_file.exists():
        return False
    state = json.loads(state_file.read_text())
    for name, pid in reversed(list(state["process_groups"].items())):
        report(f"stopping {name} (process group {pid})")
        stop_group(pid)
    _wait_until_free(state["port"])
    state_file.unlink()
    return True


def stop_group(
    pid: int, sig: int = signal.SIGTERM, grace: float = 15, reap: Callable[[], object] = lambda: None
) -> None:
    """Signal the process group ``pid`` and wait until none of its processes is left; SIGKILL after ``grace`` s.

    ``reap`` collects the leader's exit status when it is this process's child, which would
    otherwise stay in the group as a zombie.
    """
    _signal_group(pid, sig)
    if not _wait_until_gone(pid, grace, reap):
        _signal_group(pid, signal.SIGKILL)
        _wait_until_gone(pid, 5, reap)


def _wait_until_gone(group: int, timeout: float, reap: Callable[[], object]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap()
        try:
            os.killpg(group, 0)
        except (ProcessLookupError, PermissionError):
            return True
        time.sleep(0.1)
    return False


def _wait_until_free(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while _port_taken(port) and time.monotonic() < deadline:
        time.sleep(0.1)


def _variable(section: str, key: str) -> str:
    """The environment variable that sets Airflow's ``[section] key``."""
    return f"AIRFLOW__{section.upper()}__{key.upper()}"


def _fernet_key() -> str:
    """A new Fernet key: 32 random bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable and writable by its owner only, also when the file exists.

    The mode is set before the text is written, so the secret is never readable by others.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(descriptor, PRIVATE_FILE)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def _signal_group(group: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
