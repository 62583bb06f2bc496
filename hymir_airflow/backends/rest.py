"""Drives a running Airflow deployment through its public REST API (``/api/v2``)."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import httpx

from hymir.workflow import Workflow
from hymir_airflow.backends import TaskInstanceSummary
from hymir_airflow.compat import has_dag_run_wait, record_path, stored_value_reader
from hymir_airflow.state import STORE_KEY, instance_key, split_instance_key
from hymir_airflow.task_docs import job_of

_FINISHED = ("success", "failed")


class AirflowApiError(RuntimeError):
    """The deployment refused a request or cannot do what was asked; the message says what to do about it."""


class Unauthorized(AirflowApiError):
    """The credentials or token were refused."""


class DagNotFound(AirflowApiError):
    """The deployment has no such DAG (the message lists import errors of its DAG files)."""


class DagPaused(AirflowApiError):
    """The DAG is paused, so a triggered run would never start."""


class DagMismatch(AirflowApiError):
    """The deployed DAG does not run the workflow given: its tasks run other jobs (the message names them)."""


class RestBackend:
    """Triggers Hymir DAGs on a deployment and reads task instances, XComs and job records back."""

    def __init__(
        self,
        api_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        unpause: bool = False,
        timeout: float = 30,
    ):
        self.api_url = api_url.rstrip("/")
        self.unpause = unpause
        self._version: str | None = None
        self._client = httpx.Client(base_url=f"{self.api_url}/api/v2", timeout=timeout)
        if token is None:
            if username is None or password is None:
                raise ValueError("give AirflowDeploymentExecutor a token, or a username and password")
            token = self._login(username, password, timeout)
        self._client.headers["Authorization"] = f"Bearer {token}"

    def _login(self, username: str, password: str, timeout: float) -> str:
        try:
            response = httpx.post(
                f"{self.api_url}/auth/token", json={"username": username, "password": password}, timeout=timeout
            )
        except httpx.HTTPError as error:
            raise AirflowApiError(f"cannot reach Airflow at {self.api_url}: {error}") from error
        if response.status_code in (401, 403):
            raise Unauthorized(f"Airflow at {self.api_url} refused the login of {username!r}: {_detail(response)}")
        _raise_for_status(response, "log in")
        token: str = response.json()["access_token"]
        return token

    def _call(self, method: str, path: str, action: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise AirflowApiError(f"cannot reach Airflow at {self.api_url} to {action}: {error}") from error
        if response.status_code in (401, 403):
            raise Unauthorized(f"Airflow at {self.api_url} refused to {action}: {_detail(response)}")
        return response

    def wait_for_dag(self, dag_id: str, timeout: float) -> None:
        """Wait until the deployment's dag-processor has loaded ``dag_id``; DagNotFound after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            response = self._call("GET", f"/dags/{dag_id}", "look up the DAG")
            if response.status_code == 200:
                return
            if response.status_code != 404:
                _raise_for_status(response, f"look up DAG {dag_id!r}")
            if time.monotonic() >= deadline:
                raise DagNotFound(
                    f"Airflow at {self.api_url} did not load DAG {dag_id!r} within {timeout:.0f} s"
                    f"{self._import_errors()}"
                )
            time.sleep(1)

    def job_tasks(self, dag_id: str) -> dict[str, tuple[str, str]]:
        """The deployed DAG's tasks that run Hymir jobs: ``{task_id: (job id, function)}``, as their docs say.

        Read from the DAG's latest version (see ``hymir_airflow.task_docs``); Hymir's own tasks
        (the fail-fast gate, the records holder) and other operators' name no job and are left out.
        """
        response = self._call("GET", f"/dags/{dag_id}/tasks", "list the DAG's tasks")
        if response.status_code == 404:
            raise self._no_dag(dag_id)
        _raise_for_status(response, f"list the tasks of DAG {dag_id!r}")
        jobs = {}
        for task in response.json()["tasks"]:
            job = job_of(task.get("doc_md"))
            if job is not None:
                jobs[task["task_id"]] = job
        return jobs

    def start(self, workflow: Workflow, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        dag = self._call("GET", f"/dags/{dag_id}", "look up the DAG")
        if dag.status_code == 404:
            raise self._no_dag(dag_id)
        _raise_for_status(dag, f"look up DAG {dag_id!r}")
        if dag.json().get("is_paused"):
            if not self.unpause:
                raise DagPaused(
                    f"DAG {dag_id!r} is paused, so its run would never start: unpause it in the Airflow UI, "
                    "or create the executor with unpause=True"
                )
            _raise_for_status(
                self._call("PATCH", f"/dags/{dag_id}", "unpause the DAG", json={"is_paused": False}), "unpause"
            )
        response = self._call(
            "POST", f"/dags/{dag_id}/dagRuns", "trigger the DAG", json={"logical_date": None, "conf": conf or {}}
        )
        _raise_for_status(response, f"trigger DAG {dag_id!r}")
        run_id: str = response.json()["dag_run_id"]
        return run_id

    def _no_dag(self, dag_id: str) -> DagNotFound:
        return DagNotFound(f"Airflow at {self.api_url} has no DAG {dag_id!r}{self._import_errors()}")

    def _import_errors(self) -> str:
        response = self._call("GET", "/importErrors", "list import errors")
        if response.status_code != 200:
            return ""
        errors = response.json().get("import_errors", [])
        if not errors:
            return "; its DAG files import without errors, so check the dag_id and the dags folder"
        listed = "\n".join(f"- {e.get('filename')}: {e.get('stack_trace', '').strip()[-500:]}" for e in errors)
        return f"; DAG files that failed to import:\n{listed}"

    def _deployment_version(self) -> str:
        """The Airflow version the deployment runs (asked once)."""
        if self._version is None:
            response = self._call("GET", "/version", "read the Airflow version")
            _raise_for_status(response, "read the Airflow version")
            self._version = response.json()["version"]
        return self._version

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float | None, interval: float = 1.0) -> str | None:
        """Block until the run finishes: through the DAG-run wait endpoint (Airflow 3.1+), else by polling.

        Either way Airflow is asked every ``interval`` seconds. Returns the last state seen, which
        is unfinished only when ``timeout`` passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if has_dag_run_wait(self._deployment_version()):
            state = self._stream_until_finished(dag_id, run_id, deadline, interval)
            if state in _FINISHED:
                return state
        state = self.dag_run_state(dag_id, run_id)
        while state not in _FINISHED and (deadline is None or time.monotonic() < deadline):
            time.sleep(interval)
            state = self.dag_run_state(dag_id, run_id)
        return state

    def _stream_until_finished(self, dag_id: str, run_id: str, deadline: float | None, interval: float) -> str | None:
        """The run's state as the wait endpoint streams it, until it is finished or ``deadline`` passed.

        The endpoint sends a line every ``interval`` seconds, so a read that waits far longer means
        a stalled connection: it, a dropped stream or a line that is not the expected JSON ends the
        stream, and the caller polls instead.
        """
        state = None
        read_timeout = max(30.0, 3 * interval)
        try:
            with self._client.stream(
                "GET",
                f"/dags/{dag_id}/dagRuns/{run_id}/wait",
                params={"interval": interval},
                timeout=httpx.Timeout(30.0, read=read_timeout),
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    if response.status_code in (401, 403):
                        raise Unauthorized(
                            f"Airflow at {self.api_url} refused to wait for the run: {_detail(response)}"
                        )
                    _raise_for_status(response, f"wait for run {run_id!r} of {dag_id!r}")
                for line in response.iter_lines():
                    if line.strip():
                        state = json.loads(line)["state"]
                    if state in _FINISHED or (deadline is not None and time.monotonic() >= deadline):
                        return state
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            pass  # polling takes over
        return state

    def dag_run_state(self, dag_id: str, run_id: str) -> str | None:
        response = self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}", "read the DAG run")
        _raise_for_status(response, f"read run {run_id!r} of {dag_id!r}")
        state: str | None = response.json()["state"]
        return state

    def task_rows(self, dag_id: str, run_id: str) -> dict[str, TaskInstanceSummary]:
        rows: dict[str, TaskInstanceSummary] = {}
        offset = 0
        while True:
            response = self._call(
                "GET",
                f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                "list task instances",
                params={"limit": 100, "offset": offset},
            )
            _raise_for_status(response, f"list task instances of {dag_id!r}")
            page = response.json()
            for item in page["task_instances"]:
                index = item.get("map_index", -1)
                summary = TaskInstanceSummary(item["task_id"], item["state"], item.get("try_number") or 0, index)
                rows[instance_key(item["task_id"], index)] = summary
            offset += len(page["task_instances"])
            if not page["task_instances"] or offset >= page["total_entries"]:
                return rows

    def return_values(self, dag_id: str, run_id: str, instances: list[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        read = stored_value_reader()
        for instance in instances:
            task_id, map_index = split_instance_key(instance)
            response = self._call(
                "GET",
                f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value",
                "read XCom",
                params={"map_index": map_index},
            )
            if response.status_code == 404:
                values[instance] = None
                continue
            _raise_for_status(response, f"read the XCom of {instance!r}")
            values[instance] = read(SimpleNamespace(value=response.json()["value"]))
        return values

    def records(self, dag_id: str, run_id: str, instances: list[str], holder_task_id: str) -> dict[str, Any]:
        records = {}
        for instance in instances:
            path, query = record_path(self._deployment_version(), dag_id, run_id, instance, STORE_KEY, holder_task_id)
            response = self._call("GET", path, "read the job's record", params=query)
            if response.status_code == 404:
                continue
            _raise_for_status(response, f"read the record of {instance!r}")
            records[instance] = response.json()["value"]
        return records

    def delete_run(self, dag_id: str, run_id: str) -> None:
        _raise_for_status(self._call("DELETE", f"/dags/{dag_id}/dagRuns/{run_id}", "delete the run"), "delete run")


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text


def _raise_for_status(response: httpx.Response, action: str) -> None:
    if response.status_code >= 400:
        raise AirflowApiError(f"Airflow refused to {action} (HTTP {response.status_code}): {_detail(response)}")
