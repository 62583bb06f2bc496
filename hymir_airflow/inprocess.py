"""Runs Hymir DAGs in this process with ``dag.test()`` and reads them back from the metadata database."""

from __future__ import annotations

import json
import tempfile
from typing import Any

from sqlalchemy import delete, inspect, select

from hymir.workflow import Workflow
from hymir_airflow.executor import TaskRow
from hymir_airflow.factory import workflow_to_dag
from hymir_airflow.state import STORE_KEY


def ensure_database() -> None:
    """Create Airflow's tables in the configured metadata database if they are not there yet."""
    from airflow import settings
    from airflow.utils.db import initdb

    if not inspect(settings.engine).has_table("dag_run"):
        initdb()


def register_dag(dag: Any) -> None:
    """Serialize ``dag`` into the metadata database, as the dag-processor would, so ``dag.test()`` can run it."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=tempfile.mkdtemp(prefix="hymir-empty-"), collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)


class InProcessBackend:
    """Builds the workflow's DAG, registers it and runs it to completion in this process."""

    def __init__(self, dag_options: dict[str, Any]):
        # dag.test() runs each task inline and has no executor events to race with, so CheckLater
        # intervals are honoured exactly unless the caller asks otherwise.
        self._dag_options = {"min_check_interval": 0, **dag_options}
        self._database_ready = False

    def start(self, workflow: Workflow, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        if not self._database_ready:
            ensure_database()
            self._database_ready = True
        dag = workflow_to_dag(workflow, dag_id=dag_id, **self._dag_options)
        register_dag(dag)
        return dag.test(run_conf=conf).run_id

    def wait_for_dag(self, dag_id: str, timeout: float) -> None:
        """Nothing to wait for: ``start`` builds and registers the DAG itself."""

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
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        from airflow.sdk.bases.xcom import BaseXCom
        from airflow.sdk.execution_time.xcom import resolve_xcom_backend

        backend = resolve_xcom_backend()
        query = XComModel.get_many(run_id=run_id, key="return_value", dag_ids=dag_id, task_ids=task_ids)
        with create_session() as session:
            rows = list(session.scalars(query))
        if backend is not BaseXCom:
            # A custom backend (object storage, say) stores references: it alone can read them.
            return {row.task_id: backend.deserialize_value(row) for row in rows}
        # Task results arrive through the execution API and are stored as plain JSON values;
        # they are read as stored, since decoding again would turn the string "42" into 42.
        return {row.task_id: row.value for row in rows}

    def records(self, dag_id: str, run_id: str, task_ids: list[str]) -> dict[str, Any]:
        from airflow.models.task_state_store import TaskStateStoreModel
        from airflow.utils.session import create_session

        query = select(TaskStateStoreModel.task_id, TaskStateStoreModel.value).where(
            TaskStateStoreModel.dag_id == dag_id,
            TaskStateStoreModel.run_id == run_id,
            TaskStateStoreModel.key == STORE_KEY,
            TaskStateStoreModel.task_id.in_(task_ids),
        )
        with create_session() as session:
            return {task_id: _json(value) for task_id, value in session.execute(query)}

    def delete_run(self, dag_id: str, run_id: str) -> None:
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        with create_session() as session:
            session.execute(delete(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
