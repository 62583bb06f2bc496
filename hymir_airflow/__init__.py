"""Hymir on Apache Airflow: a drop-in DAG factory, the operator that runs a job, and two executors.

Names are imported on first use, so that a DAG file importing ``workflow_to_dag`` pays only
for what it uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hymir_airflow.deployment import AirflowDeploymentExecutor
    from hymir_airflow.executor import AirflowExecutor
    from hymir_airflow.factory import workflow_to_dag
    from hymir_airflow.operator import HymirJobOperator
    from hymir_airflow.parsing import dags_for

_EXPORTS = {
    "workflow_to_dag": "hymir_airflow.factory",
    "dags_for": "hymir_airflow.parsing",
    "HymirJobOperator": "hymir_airflow.operator",
    "AirflowExecutor": "hymir_airflow.executor",
    "AirflowDeploymentExecutor": "hymir_airflow.deployment",
}

__all__ = ["AirflowDeploymentExecutor", "AirflowExecutor", "HymirJobOperator", "dags_for", "workflow_to_dag"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hymir_airflow' has no attribute {name!r}")
