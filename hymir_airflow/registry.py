"""The workflow each Hymir DAG was built from in this process, by DAG id.

``workflow_to_dag`` records it; tools that load DAG files get the workflows back, and the task of
an item of a mapped job, which Airflow builds on the worker from plain arguments, finds its own.
"""

from __future__ import annotations

from hymir.workflow import Workflow

_BUILT: dict[str, Workflow] = {}


def remember(dag_id: str, workflow: Workflow) -> None:
    """Record that the DAG ``dag_id`` was (last) built from ``workflow``."""
    _BUILT[dag_id] = workflow


def built_workflow(dag_id: str) -> Workflow:
    """The workflow that ``workflow_to_dag`` last built the DAG ``dag_id`` from in this process.

    A tool that loads DAG files (with Airflow's ``DagBag``) gets back the workflows behind them,
    to run or report one through ``AirflowExecutor`` or ``AirflowDeploymentExecutor``; KeyError
    when no such DAG was built here.
    """
    try:
        return _BUILT[dag_id]
    except KeyError:
        raise KeyError(f"no Hymir DAG {dag_id!r} was built in this process") from None
