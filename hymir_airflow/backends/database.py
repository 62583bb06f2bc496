"""Reads DAG runs back from Airflow's metadata database: states, tries, outputs and job records.

The in-process backend of ``AirflowExecutor`` and the Hymir view both read through this, so they
report the same thing; the queries themselves are Airflow details and live in ``compat``.
"""

from __future__ import annotations

from typing import Any

from hymir_airflow import compat
from hymir_airflow.backends import TaskInstanceSummary
from hymir_airflow.compat import ensure_database
from hymir_airflow.state import STORE_KEY, instance_key

__all__ = ["MetadataDatabase", "ensure_database"]


class MetadataDatabase:
    """One DAG run's task instances, return values and job records, as stored in the metadata database."""

    def dag_run_state(self, dag_id: str, run_id: str) -> str | None:
        with compat.metadata_session() as session:
            state: str | None = compat.dag_run_state(session, dag_id, run_id)
            return state

    def task_rows(self, dag_id: str, run_id: str) -> dict[str, TaskInstanceSummary]:
        with compat.metadata_session() as session:
            rows = compat.task_instance_rows(session, dag_id, run_id)
        return {
            instance_key(task_id, index): TaskInstanceSummary(task_id, state, tries, index)
            for task_id, index, state, tries in rows
        }

    def return_values(self, dag_id: str, run_id: str, instances: list[str]) -> dict[str, Any]:
        with compat.metadata_session() as session:
            return compat.return_values(session, dag_id, run_id, instances)

    def records(
        self, dag_id: str, run_id: str, instances: list[str], holder_task_id: str | None = None
    ) -> dict[str, Any]:
        with compat.metadata_session() as session:
            return compat.read_records(session, dag_id, run_id, instances, STORE_KEY, holder_task_id)

    def delete_run(self, dag_id: str, run_id: str) -> None:
        with compat.metadata_session() as session:
            compat.delete_dag_run(session, dag_id, run_id)
