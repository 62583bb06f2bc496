"""What the Hymir view shows, read from Airflow's metadata database (the queries are ``hymir_airflow.compat``'s).

Task instances, XComs and job records are read exactly as ``AirflowExecutor`` reads them
in-process (``hymir_airflow.backends.database``), so the view and the executor agree. Every value leaves
this module as a masked, bounded ``Preview`` (``hymir_airflow.ui.preview``), and a run's jobs are
read a page of ``PAGE_SIZE`` at a time, so a run of 10,000 jobs or a 30 MB output keeps its page small.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import HTTPException, status
from sqlalchemy.orm import Session

from hymir.executor import JobStatus, WorkflowState
from hymir.layout import first_free
from hymir.mapping import item_id
from hymir_airflow import compat
from hymir_airflow.backends.database import MetadataDatabase
from hymir_airflow.factory import HYMIR_TAG
from hymir_airflow.state import (
    STORE_KEY,
    JobRecord,
    UnitRecord,
    instance_key,
    plain_state,
    split_instance_key,
    workflow_status,
)
from hymir_airflow.task_docs import job_of
from hymir_airflow.ui.preview import Preview, preview_arguments, preview_json, preview_text
from hymir_airflow.values import decode

#: How many of its latest runs the overview lists for each DAG.
RUNS_PER_DAG = 5

#: How many jobs one run page shows; longer runs have further pages.
PAGE_SIZE = 200

#: The values of a job that the full-value endpoint serves, by the name in its address.
VALUE_PARTS = ("output", "failure", "context", "exception")

_FINISHED = {"success", "failed"}

#: A unit member's status in Airflow's words, as the rows of jobs with tasks of their own show theirs.
_MEMBER_STATE = {JobStatus.SUCCESS: "success", JobStatus.FAILURE: "failed", JobStatus.STARTING: "running"}

#: Between a unit's task id and a member's identity in the view's addresses (no task id has it).
MEMBER_SEPARATOR = "~"


@dataclass(frozen=True)
class RunSummary:
    """A DAG run as the overview lists it."""

    run_id: str
    state: str | None
    run_after: datetime | None


@dataclass(frozen=True)
class DagSummary:
    """A Hymir DAG and its latest runs, newest first; ``runs_readable`` is False when the user may not see them."""

    dag_id: str
    is_paused: bool
    runs_readable: bool
    runs: list[RunSummary]


@dataclass(frozen=True)
class JobTableRow:
    """One line of the view's table of a run's jobs: its task's summary, and previews of its record and output.

    ``retries`` counts the retries the job asked for; ``try_number`` is Airflow's, which also
    counts retries of failures the job did not ask for (a lost worker, ...).

    A preview is None when there is nothing to show: no arguments, context, exception, Failure value or output.
    A mapped job has a row (``map_index`` -1, its state its items' together) and each item one after it;
    a unit has a row (its task's) and each member one after it (``member``: the member's identity).
    """

    job_id: str
    task_id: str
    map_index: int
    function: str | None
    arguments: Preview | None
    state: str | None
    try_number: int
    retries: int
    checks: int
    context: Preview | None
    exception: Preview | None
    failure: Preview | None
    output: Preview | None
    member: str | None = None

    @property
    def instance(self) -> str:
        """The row's name in the view's addresses: the task id, with ``[n]`` for an item, ``~id`` for a member."""
        if self.member is not None:
            return f"{self.task_id}{MEMBER_SEPARATOR}{self.member}"
        return instance_key(self.task_id, self.map_index)


@dataclass(frozen=True)
class RunDetail:
    """One page of the jobs of a run of a Hymir DAG, in the order of their identities, and the run's params (masked).

    ``params`` is None when the run has none.
    """

    dag_id: str
    run_id: str
    state: str | None
    start_date: datetime | None
    end_date: datetime | None
    params: Preview | None
    jobs: list[JobTableRow]
    job_count: int
    page: int
    pages: int
    version: str

    @property
    def finished(self) -> bool:
        return self.state in _FINISHED

    @property
    def first_job(self) -> int:
        """The position (from 1) of this page's first job among all jobs of the run."""
        return (self.page - 1) * PAGE_SIZE + 1


def hymir_dags(
    session: Session, readable: set[str], runs_readable: Callable[[list[str]], set[str]]
) -> list[DagSummary]:
    """The Hymir DAGs (tag ``hymir``) among ``readable`` that the dag-processor still finds, by id.

    Runs are listed only for the DAGs that ``runs_readable`` keeps of them.
    """
    dags = compat.tagged_dags(session, HYMIR_TAG, readable)
    with_runs = runs_readable([dag_id for dag_id, _ in dags])
    return [
        DagSummary(
            dag_id,
            is_paused,
            dag_id in with_runs,
            _latest_runs(session, dag_id) if dag_id in with_runs else [],
        )
        for dag_id, is_paused in dags
    ]


def _latest_runs(session: Session, dag_id: str) -> list[RunSummary]:
    runs = compat.latest_runs(session, dag_id, RUNS_PER_DAG)
    return [RunSummary(run_id, plain_state(state), run_after) for run_id, state, run_after in runs]


def run_detail(session: Session, dag_bag: Any, dag_id: str, run_id: str, page: int = 1) -> RunDetail:
    """Page ``page`` (from 1) of the jobs of one run; HTTP 404 for no such run, page or Hymir DAG."""
    version = run_version(session, dag_id, run_id)
    dag_run = _dag_run(session, dag_id, run_id)
    dag = compat.dag_of_run(session, dag_bag, dag_run)
    tasks = _hymir_tasks(dag)
    database = MetadataDatabase()
    rows = database.task_rows(dag_id, run_id)
    entries: list[tuple[Any, int, list[Any] | None]] = []
    for task in tasks:
        indexes = sorted(r.map_index for r in rows.values() if r.task_id == task.task_id and r.map_index >= 0)
        entries += [(task, index, None) for index in [-1, *indexes]]
        entries += [(task, -1, member) for member in getattr(task, "hymir_members", None) or []]
    pages = max(math.ceil(len(entries) / PAGE_SIZE), 1)
    if not 1 <= page <= pages:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"run {run_id!r} has {pages} page(s) of jobs, not {page}")
    shown = entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    instances = [instance_key(task.task_id, index) for task, index, _ in shown]
    records = database.records(dag_id, run_id, list(dict.fromkeys(instances)), _records_holder(tasks))
    outputs = database.return_values(dag_id, run_id, instances)
    jobs = []
    for (task, index, member), instance in zip(shown, instances, strict=True):
        row = rows.get(instance)
        if member is not None:
            jobs.append(_member_row(task, member, row, UnitRecord.from_stored(records.get(instance))))
            continue
        record = JobRecord.from_stored(records.get(instance))
        job_id, function = _job_of_task(task)
        state = plain_state(row.state) if row else None
        if task.is_mapped and index < 0:
            items = {r.map_index: plain_state(r.state) for r in rows.values() if r.task_id == task.task_id}
            state = _mapped_row_state(items, run_over=WorkflowState(workflow_status(dag_run.state)).is_finished)
        jobs.append(
            JobTableRow(
                job_id=job_id if index < 0 else item_id(job_id, index),
                task_id=task.task_id,
                map_index=index,
                function=function,
                arguments=preview_arguments(*compat.job_arguments(task)),
                state=state,
                try_number=row.try_number if row else 0,
                retries=record.retries,
                checks=record.checks,
                context=preview_json(record.context) if record.context else None,
                exception=preview_text(record.exception) if record.exception else None,
                failure=preview_json(record.result) if record.result is not None else None,
                output=preview_json(xcom_value(outputs[instance])) if instance in outputs else None,
            )
        )
    params = compat.run_params(dag, dag_run)
    return RunDetail(
        dag_id,
        run_id,
        plain_state(dag_run.state),
        dag_run.start_date,
        dag_run.end_date,
        preview_json(params) if params else None,
        jobs,
        len(entries),
        page,
        pages,
        version,
    )


def _member_row(task: Any, member: list[Any], row: Any, unit: UnitRecord) -> JobTableRow:
    """The row of one member of a unit, from the unit's task and record: its state in the unit's latest try."""
    job_id, function, args, kwargs = member
    status, record = unit.member(job_id)
    return JobTableRow(
        job_id=job_id,
        task_id=task.task_id,
        map_index=-1,
        function=function,
        arguments=preview_arguments(args, kwargs),
        state=_MEMBER_STATE.get(status) if row else None,
        try_number=row.try_number if row else 0,
        retries=record.retries,
        checks=record.checks,
        context=preview_json(record.context) if record.context else None,
        exception=preview_text(record.exception) if record.exception else None,
        failure=preview_json(record.result) if status is JobStatus.FAILURE and record.result is not None else None,
        output=preview_json(record.result) if status is JobStatus.SUCCESS else None,
        member=job_id,
    )


def _mapped_row_state(states: dict[int, str | None], run_over: bool) -> str | None:
    """A mapped task's row in Airflow's words, like its items' rows.

    The task's own state until it expands (``skipped`` with no item), then ``running`` while an
    item may still run, ``success`` when every item succeeded and ``failed`` otherwise.
    """
    items = [state for index, state in states.items() if index >= 0]
    if not items:
        return states.get(-1)
    if all(state == "success" for state in items):
        return "success"
    if run_over or all(state in ("success", "failed", "upstream_failed", "skipped", "removed") for state in items):
        return "failed"
    return "running"


def job_value(session: Session, dag_bag: Any, dag_id: str, run_id: str, task_id: str, part: str) -> Any:
    """The whole value ``part`` (one of ``VALUE_PARTS``) of one job of a run, unmasked; HTTP 404 when it has none.

    An empty context counts as none, as on the run page.
    """
    tasks = _hymir_tasks(compat.dag_of_run(session, dag_bag, _dag_run(session, dag_id, run_id)))
    task_id, _, member = task_id.partition(MEMBER_SEPARATOR)
    if part not in VALUE_PARTS or split_instance_key(task_id)[0] not in {task.task_id for task in tasks}:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"run {run_id!r} has no Hymir job value {task_id}/{part}")
    database = MetadataDatabase()
    if part == "output" and not member:
        outputs = database.return_values(dag_id, run_id, [task_id])
        if task_id not in outputs:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"task {task_id!r} has no output in run {run_id!r}")
        return xcom_value(outputs[task_id])
    stored = database.records(dag_id, run_id, [task_id], _records_holder(tasks)).get(task_id)
    # A unit's member keeps its Success value in the unit's record, where a job keeps only a Failure's.
    output, record = None, JobRecord.from_stored(stored)
    if member:
        member_status, record = UnitRecord.from_stored(stored).member(member)
        output = record.result if member_status is JobStatus.SUCCESS else None
    failure = record.result if output is None else None
    value = {"output": output, "failure": failure, "context": record.context, "exception": record.exception}[part]
    if value is None or value == {}:
        who = f"job {member!r}" if member else f"task {task_id!r}"
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{who} has no {part} in run {run_id!r}")
    return value


def xcom_value(stored: Any) -> Any:
    """A job's output as its consumers receive it, from the XCom value as stored.

    The one place where the view decodes XCom values (``hymir_airflow.values``), before any
    preview is made of them, so the page shows what the job returned, not its encoding.
    """
    return decode(stored)


def run_version(session: Session, dag_id: str, run_id: str) -> str:
    """A fingerprint of everything the run page shows: it changes when a state, a try, a record or an output does.

    Aggregates only, so that polling it stays cheap on runs of thousands of jobs; HTTP 404 for no such run.
    """
    run_state = _dag_run(session, dag_id, run_id).state
    seen = repr(
        (
            plain_state(run_state),
            compat.task_instance_totals(session, dag_id, run_id),
            compat.records_version(session, dag_id, run_id, STORE_KEY),
            compat.return_value_totals(session, dag_id, run_id),
        )
    )
    return hashlib.sha1(seen.encode()).hexdigest()


def _dag_run(session: Session, dag_id: str, run_id: str) -> Any:
    dag_run = compat.find_dag_run(session, dag_id, run_id)
    if dag_run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"DAG {dag_id!r} has no run {run_id!r}")
    return dag_run


def _hymir_tasks(dag: Any) -> list[Any]:
    """The tasks of a run's DAG version that run Hymir jobs, by job identity; HTTP 404 when there are none."""
    tasks = sorted(
        (task for task in dag.tasks if compat.hymir_job_id_of(task) is not None),
        key=lambda task: _natural_key(compat.hymir_job_id_of(task) or ""),
    )
    if not tasks:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"DAG {dag.dag_id!r} is not a Hymir DAG: none of its tasks runs a Hymir job"
        )
    return tasks


def _job_of_task(task: Any) -> tuple[str, str | None]:
    """The job id and function of a Hymir task; a mapped task names its function only in its docs' job line."""
    job_id = compat.hymir_job_id_of(task) or ""
    function = getattr(task, "hymir_function", None)
    if function is None:
        named = job_of(getattr(task, "doc_md", None))
        function = named[1] if named else None
    return job_id, function


def _records_holder(tasks: list[Any]) -> str:
    """The task that keeps the jobs' records before Airflow 3.3: the id the factory chose, by the layout's rule.

    The factory gives it the first of ``hymir_records``, ``hymir_records_2``, ... that no job's task has.
    """
    return first_free(compat.RECORDS_TASK_ID, {task.task_id for task in tasks})


def _natural_key(identity: str) -> list[Any]:
    """Sorts job identities as people count: 2 before 10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", identity)]
