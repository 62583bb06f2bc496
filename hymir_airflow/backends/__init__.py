"""Where the Airflow executors run DAGs and read them back: in this process, or on a deployment.

``database`` reads runs from Airflow's metadata database (the in-process backend and the Hymir
view both use it), ``inprocess`` runs DAGs with ``dag.test()``, ``rest`` drives a deployment
through its REST API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from hymir.workflow import Workflow


@dataclass(frozen=True)
class TaskInstanceSummary:
    """What Airflow reports of one task instance: its state and try number (``map_index`` -1 unless mapped).

    With the task's ``JobRecord`` (what the job stored) it makes the ``JobState`` an executor reports.
    Backends key these by ``hymir_airflow.state.instance_key``: ``load`` for a task, ``load[2]`` for an item.
    """

    task_id: str
    state: str | None
    try_number: int
    map_index: int = -1


class AirflowBackend(Protocol):
    """The operations the Airflow executors need from an Airflow: start a run, read it back, delete it."""

    def start(self, workflow: Workflow, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Run (or trigger) the workflow's DAG with ``conf``; return the DAG run id."""

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float | None, interval: float = 1.0) -> str | None:
        """Block until the run has finished (or ``timeout`` passed), asking every ``interval`` s; return its state."""

    def dag_run_state(self, dag_id: str, run_id: str) -> str | None: ...

    def task_rows(self, dag_id: str, run_id: str) -> dict[str, TaskInstanceSummary]: ...

    def return_values(self, dag_id: str, run_id: str, instances: list[str]) -> dict[str, Any]:
        """The return values of task ``instances`` (instance keys), by instance key."""

    def records(self, dag_id: str, run_id: str, instances: list[str], holder_task_id: str) -> dict[str, Any]:
        """The stored records of task ``instances`` (``holder_task_id`` keeps them before Airflow 3.3)."""

    def delete_run(self, dag_id: str, run_id: str) -> None: ...
