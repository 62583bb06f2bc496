"""The four DAGs of ``checklater_scale.py``: N parallel waits of C checks W seconds apart, Hymir's and Airflow's.

The deployment imports this module from its DAG files (the benchmark puts ``benchmarks/`` on
every component's ``PYTHONPATH``), so its tasks run the functions defined here.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.providers.standard.sensors.python import PythonSensor
from airflow.providers.standard.sensors.time_delta import WaitSensor
from airflow.sdk import DAG

from hymir import CheckLater, Group, JobState, Success, Workflow, job
from hymir_airflow import workflow_to_dag

#: What a native task gets for failures it did not ask for, as a Hymir task does by default.
NATIVE_RETRIES = 3
NATIVE_RETRY_DELAY = timedelta(seconds=10)


@job(inputs=["job_state"])
def check_then_succeed(job_state: JobState, checks: int, wait: float):
    """Ask to be checked again ``wait`` seconds later until checked ``checks`` times, then succeed."""
    if job_state.checks < checks:
        return CheckLater(wait_for=wait)
    return Success(job_state.checks)


def count_poke(folder: str, checks: int, ti: Any) -> bool:
    """One poke of a native sensor: count it in a file of its own; True on the ``checks + 1``-th."""
    path = Path(folder) / f"{ti.dag_id}.{ti.run_id}.{ti.task_id}"
    with path.open("a") as pokes:
        pokes.write(".")
        return pokes.tell() > checks


def hymir_dag(dag_id: str, jobs: int, checks: int, wait: float, deferrable: bool) -> DAG:
    """A Group of ``jobs`` CheckLater jobs, rescheduled or (``deferrable``) deferred between checks.

    ``min_check_interval`` is lowered to ``wait``, so that a small ``wait`` is the wait the native
    sensors get too (the default, 15 s, is the full scale's ``wait``).
    """
    workflow = Workflow(Group(*(check_then_succeed(checks=checks, wait=wait) for _ in range(jobs))))
    return workflow_to_dag(workflow, dag_id=dag_id, deferrable=deferrable, min_check_interval=wait)


def native_reschedule_dag(dag_id: str, jobs: int, checks: int, wait: float, folder: str) -> DAG:
    """``jobs`` reschedule-mode ``PythonSensor``s poking every ``wait`` s, true on the ``checks + 1``-th poke."""
    with DAG(dag_id, schedule=None) as dag:
        for index in range(jobs):
            PythonSensor(
                task_id=f"wait_{index}",
                python_callable=count_poke,
                op_kwargs={"folder": folder, "checks": checks},
                mode="reschedule",
                poke_interval=wait,
                retries=NATIVE_RETRIES,
                retry_delay=NATIVE_RETRY_DELAY,
            )
    return dag


def native_deferrable_dag(dag_id: str, jobs: int, checks: int, wait: float) -> DAG:
    """``jobs`` deferrable ``WaitSensor``s, each waiting ``checks * wait`` s in the triggerer once."""
    with DAG(dag_id, schedule=None) as dag:
        for index in range(jobs):
            WaitSensor(
                task_id=f"wait_{index}",
                time_to_wait=timedelta(seconds=checks * wait),
                deferrable=True,
                retries=NATIVE_RETRIES,
                retry_delay=NATIVE_RETRY_DELAY,
            )
    return dag
