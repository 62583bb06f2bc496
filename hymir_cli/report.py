"""What ``hymir run`` prints once a run is over: one row per job, then the outcome and outputs."""

from __future__ import annotations

from typing import Any

from hymir.executor import JobState, JobStatus, WorkflowState
from hymir.job import Job
from hymir.labels import describe
from hymir.mapping import split_item_id
from hymir.workflow import Workflow

#: Longest result shown in a table cell; longer ones are cut with "...".
RESULT_WIDTH = 60

_COLUMNS = ("job", "function", "status", "retries", "checks", "result")


def outcome(job: Job, state: JobState) -> str:
    """A job's result in one cell: the last line of its exception if it failed, else its value.

    Messages that start by naming the job ("job 3 (mod.f) returned Failure(...)") lose that
    name, which the row already shows.
    """
    if state.exception:
        last = state.exception.strip().splitlines()[-1].strip()
        text = last.removeprefix(describe(job)).lstrip(": ")
    elif state.status in (JobStatus.SUCCESS, JobStatus.FAILURE):
        text = repr(state.result)
    else:
        return ""
    return text if len(text) <= RESULT_WIDTH else text[: RESULT_WIDTH - 3] + "..."


def run_report(
    workflow: Workflow, states: dict[str, JobState], workflow_state: WorkflowState, outputs: dict[str, list[Any]]
) -> str:
    """The table of every job and callback (in graph order, a mapped job's items after it, a unit before its
    members), then the outcome."""
    rows = [_row(workflow, job_id, states[job_id]) for job_id in _in_order(workflow, states)]
    table = [_COLUMNS, *rows]
    widths = [max(len(row[column]) for row in table) for column in range(len(_COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in table]
    return "\n".join([*lines, "", f"workflow: {workflow_state.status.value}", f"outputs:  {outputs}"])


def _row(workflow: Workflow, job_id: str, state: JobState) -> tuple[str, ...]:
    """One row: a job's id, function, status, retries, checks and result; a unit's members and why it failed."""
    counts = (state.status.value, str(state.retries), str(state.checks))
    if job_id not in workflow.units:
        job = workflow[job_id]
        return (job_id, job.name, *counts, outcome(job, state))
    members = "unit of jobs " + ", ".join(workflow.units[job_id].members)
    why = state.exception.strip().splitlines()[-1].strip().removeprefix(f"{job_id}: ") if state.exception else ""
    return (job_id, members, *counts, why if len(why) <= RESULT_WIDTH else why[: RESULT_WIDTH - 3] + "...")


def _in_order(workflow: Workflow, states: dict[str, JobState]) -> list[str]:
    """Every job and callback in graph order, each mapped job followed by its items in item order and each
    unit before its first member."""
    items: dict[str, list[tuple[int, str]]] = {}
    for job_id in states:
        item = split_item_id(job_id) if workflow.mapped_job_of(job_id) else None
        if item is not None:
            items.setdefault(item[0], []).append((item[1], job_id))
    firsts = {unit.members[0]: unit_id for unit_id, unit in workflow.units.items() if unit_id in states}
    ordered = []
    for job_id in [*workflow.jobs, *workflow.callback_ids()]:
        if job_id in firsts:
            ordered.append(firsts[job_id])
        ordered.append(job_id)
        ordered += [item for _, item in sorted(items.get(job_id, []))]
    return ordered
