"""The two DAGs of ``unit_scale.py``: a Chain of N quick jobs as separate tasks, and the same Chain as one Unit.

The deployment imports this module from its DAG files (the benchmark puts ``benchmarks/`` on
every component's ``PYTHONPATH``), so its tasks run the functions defined here.
"""

from __future__ import annotations

from airflow.sdk import DAG

from hymir import Chain, Success, Unit, Workflow, job
from hymir_airflow import workflow_to_dag


@job(output="steps")
def quick(step: int):
    """One quick job: it returns its step."""
    return Success(step)


def chain(jobs: int) -> Chain:
    """``jobs`` quick jobs one after another."""
    return Chain(*(quick(step) for step in range(1, jobs + 1)))


def separate_dag(dag_id: str, jobs: int) -> DAG:
    """The Chain as ``jobs`` tasks, one per job."""
    return workflow_to_dag(Workflow(chain(jobs)), dag_id=dag_id)


def unit_dag(dag_id: str, jobs: int) -> DAG:
    """The same Chain as one Unit: one task that runs every job."""
    return workflow_to_dag(Workflow(Unit(chain(jobs))), dag_id=dag_id)
