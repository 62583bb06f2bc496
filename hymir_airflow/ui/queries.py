"""What the Hymir view shows, read from Airflow's metadata database.

Task instances, XComs and job records are read exactly as ``AirflowExecutor`` reads them
in-process (``hymir_airflow.inprocess``), so the view and the executor agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import HTTPException, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from airflow.api_fastapi.common.dagbag import get_dag_for_run_or_latest_version
from airflow.models.dag import DagModel, DagTag
from airflow.models.dagbag import DBDagBag
from airflow.models.dagrun import DagRun

from hymir_airflow.factory import HYMIR_TAG
from hymir_airflow.inprocess import InProcessBackend
from hymir_airflow.state import JobRecord, plain_state

#: How many of its latest runs the overview lists for each DAG.
RUNS_PER_DAG = 5

_FINISHED = {"success", "failed"}


@dataclass(frozen=True)
class RunSummary:
    """A DAG run as the overview lists it."""

    run_id: str
    state: str | None
    run_after: datetime | None


@dataclass(frozen=True)
class DagSummary:
    """A Hymir DAG and its latest runs, newest first."""

    dag_id: str
    is_paused: bool
    runs: list[RunSummary]


@dataclass(frozen=True)
class JobRow:
    """One job of a run: what Airflow knows of its task, and what the job recorded."""

    job_id: str
    task_id: str
    function: str | None
    state: str | None
    try_number: int
    retries_allowed: int
    record: JobRecord
    has_output: bool
    output: Any

    @property
    def retries_used(self) -> int:
        """Retries so far: every try after the first."""
        return max(self.try_number - 1, 0)


@dataclass(frozen=True)
class RunDetail:
    """A run of a Hymir DAG with every job, in the order of their identities."""

    dag_id: str
    run_id: str
    state: str | None
    start_date: datetime | None
    end_date: datetime | None
    jobs: list[JobRow]

    @property
    def finished(self) -> bool:
        return self.state in _FINISHED


def hymir_dags(session: Session, readable: set[str]) -> list[DagSummary]:
    """The Hymir DAGs (tag ``hymir``) among ``readable`` that the dag-processor still finds, by id."""
    tagged = select(DagTag.dag_id).where(DagTag.name == HYMIR_TAG)
    query = (
        select(DagModel.dag_id, DagModel.is_paused)
        .where(DagModel.dag_id.in_(tagged), DagModel.dag_id.in_(readable), DagModel.is_stale.is_(False))
        .order_by(DagModel.dag_id)
    )
    return [
        DagSummary(dag_id, bool(is_paused), _latest_runs(session, dag_id))
        for dag_id, is_paused in session.execute(query).all()
    ]


def _latest_runs(session: Session, dag_id: str) -> list[RunSummary]:
    query = (
        select(DagRun.run_id, DagRun.state, DagRun.run_after)
        .where(DagRun.dag_id == dag_id)
        .order_by(DagRun.run_after.desc(), DagRun.id.desc())
        .limit(RUNS_PER_DAG)
    )
    return [RunSummary(run_id, plain_state(state), run_after) for run_id, state, run_after in session.execute(query)]


def run_detail(session: Session, dag_bag: DBDagBag, dag_id: str, run_id: str) -> RunDetail:
    """Every job of one run of a Hymir DAG; HTTP 404 when there is no such run or the DAG runs no Hymir job."""
    dag_run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if dag_run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"DAG {dag_id!r} has no run {run_id!r}")
    dag = get_dag_for_run_or_latest_version(dag_bag, dag_run, dag_id, session)
    tasks = sorted(
        (task for task in dag.tasks if getattr(task, "hymir_job_id", None) is not None),
        key=lambda task: _natural_key(task.hymir_job_id),
    )
    if not tasks:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"DAG {dag_id!r} is not a Hymir DAG: none of its tasks runs a Hymir job"
        )
    task_ids = [task.task_id for task in tasks]
    database = InProcessBackend({})
    rows = database.task_rows(dag_id, run_id)
    records = database.records(dag_id, run_id, task_ids)
    outputs = database.return_values(dag_id, run_id, task_ids)
    jobs = []
    for task in tasks:
        row = rows.get(task.task_id)
        jobs.append(
            JobRow(
                job_id=task.hymir_job_id,
                task_id=task.task_id,
                function=getattr(task, "hymir_function", None),
                state=plain_state(row.state) if row else None,
                try_number=row.try_number if row else 0,
                retries_allowed=task.retries or 0,
                record=JobRecord.from_stored(records.get(task.task_id)),
                has_output=task.task_id in outputs,
                output=outputs.get(task.task_id),
            )
        )
    return RunDetail(dag_id, run_id, plain_state(dag_run.state), dag_run.start_date, dag_run.end_date, jobs)


def _natural_key(identity: str) -> list[Any]:
    """Sorts job identities as people count: 2 before 10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", identity)]
