"""Reads DAG runs back from Airflow's metadata database: states, tries, outputs and job records.

The in-process backend of ``AirflowExecutor`` and the Hymir view both read through this, so they
report the same thing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, inspect, select

from hymir_airflow.backends import TaskRow
from hymir_airflow.compat import read_records, xcom_query
from hymir_airflow.state import STORE_KEY


def ensure_database() -> None:
    """Create Airflow's tables in the configured metadata database if they are not there yet."""
    from airflow import settings
    from airflow.utils.db import initdb

    if not inspect(settings.engine).has_table("dag_run"):
        initdb()


class MetadataDatabase:
    """One DAG run's task instances, return values and job records, as stored in the metadata database."""

    def dag_run_state(self, dag_id: str, run_id: str) -> str | None:
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        with create_session() as session:
            return session.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))

    def task_rows(self, dag_id: str, run_id: str) -> dict[str, TaskRow]:
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        query = select(TaskInstance.task_id, TaskInstance.state, TaskInstance.try_number).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
        )
        with create_session() as session:
            rows = session.execute(query)
            return {task_id: TaskRow(task_id, state, try_number or 0) for task_id, state, try_number in rows}

    def return_values(self, dag_id: str, run_id: str, task_ids: list[str]) -> dict[str, Any]:
        from airflow.sdk.bases.xcom import BaseXCom
        from airflow.sdk.execution_time.xcom import resolve_xcom_backend
        from airflow.utils.session import create_session

        backend = resolve_xcom_backend()
        with create_session() as session:
            rows = list(session.scalars(xcom_query(dag_id, run_id, "return_value", task_ids)))
        if backend is not BaseXCom:
            # A custom backend (object storage, say) stores references: it alone can read them.
            return {row.task_id: backend.deserialize_value(row) for row in rows}
        # Task results arrive through the execution API and are stored as plain JSON values;
        # they are read as stored, since decoding again would turn the string "42" into 42.
        return {row.task_id: row.value for row in rows}

    def records(self, dag_id: str, run_id: str, task_ids: list[str], holder_task_id: str | None = None) -> dict[str, Any]:
        from airflow.utils.session import create_session

        with create_session() as session:
            return read_records(session, dag_id, run_id, task_ids, STORE_KEY)

    def delete_run(self, dag_id: str, run_id: str) -> None:
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        with create_session() as session:
            session.execute(delete(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
