"""Driving an embedded deployment from a benchmark: its REST API as admin, triggering runs and waiting for them."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx

from hymir_airflow.launcher import DeploymentError, LocalDeployment

#: Seconds between two questions to the deployment while waiting.
POLL = 2.0


class Api:
    """The deployment's REST API as admin, riding out the slow answers of a loaded machine."""

    def __init__(self, deployment: LocalDeployment):
        self.client = httpx.Client(base_url=f"{deployment.api_url}/api/v2", timeout=60)
        login = self.call(
            "POST", f"{deployment.api_url}/auth/token", json={"username": "admin", "password": deployment.password}
        )
        login.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"

    def call(self, method: str, path: str, attempts: int = 5, **kwargs: Any) -> httpx.Response:
        """One request, sent again (up to ``attempts`` times in all) when it times out or the connection fails."""
        for _ in range(attempts - 1):
            try:
                return self.client.request(method, path, **kwargs)
            except httpx.TransportError:
                time.sleep(POLL)
        return self.client.request(method, path, **kwargs)

    def wait_for_dags(self, dag_ids: list[str], timeout: float) -> None:
        """Wait until the dag-processor has loaded every DAG, and unpause them."""
        deadline = time.monotonic() + timeout
        for dag_id in dag_ids:
            while self.call("GET", f"/dags/{dag_id}").status_code != 200:
                if time.monotonic() > deadline:
                    errors = self.call("GET", "/importErrors").json().get("import_errors", [])
                    raise DeploymentError(f"the deployment did not load {dag_id} within {timeout:.0f} s: {errors}")
                time.sleep(POLL)
            self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()

    def trigger(self, dag_id: str) -> str:
        response = self.call("POST", f"/dags/{dag_id}/dagRuns", attempts=1, json={"logical_date": None})
        response.raise_for_status()
        run_id: str = response.json()["dag_run_id"]
        return run_id

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        response = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        response.raise_for_status()
        run: dict[str, Any] = response.json()
        return run


def timestamp(text: str) -> datetime:
    """A time as the REST API writes it."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def finish(deployment: LocalDeployment, api: Api, dag_id: str, run_id: str, timeout: float) -> dict[str, Any]:
    """Wait until the run has finished and return it; fail clearly after ``timeout`` s or when a component exits."""
    started = time.monotonic()
    run = api.run(dag_id, run_id)
    while run["state"] not in ("success", "failed"):
        deployment.check_running()
        if time.monotonic() - started > timeout:
            raise RuntimeError(
                f"run {run_id} of {dag_id} did not finish within {timeout:.0f} s (state {run['state']}); "
                f"raise --timeout, or read the logs in {deployment.log_folder}"
            )
        time.sleep(POLL)
        run = api.run(dag_id, run_id)
    return run
