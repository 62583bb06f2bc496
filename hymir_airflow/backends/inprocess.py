"""Runs Hymir DAGs in this process with ``dag.test()`` and reads them back from the metadata database."""

from __future__ import annotations

from typing import Any

from hymir.workflow import Workflow
from hymir_airflow.backends.database import MetadataDatabase, ensure_database
from hymir_airflow.compat import register_dag
from hymir_airflow.factory import workflow_to_dag


class InProcessBackend(MetadataDatabase):
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
        run_id: str = dag.test(run_conf=conf).run_id
        return run_id

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float | None, interval: float = 1.0) -> str | None:
        """Nothing to wait for: ``start`` returns once the run has finished."""
        return self.dag_run_state(dag_id, run_id)
