"""What ``hymir run`` prints once a run is over: one row per job, then the outcome and outputs."""

from __future__ import annotations

from typing import Any

from hymir.executor import JobState, JobStatus, WorkflowState
from hymir.job import Job
from hymir.labels import describe
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
    """The table of every job and callback (in graph order), then the workflow's status and outputs."""
    rows = [
        (job_id, job.name, state.status.value, str(state.retries), str(state.checks), outcome(job, state))
        for job_id in [*workflow.jobs, *workflow.callback_ids()]
        for job, state in [(workflow[job_id], states[job_id])]
    ]
    table = [_COLUMNS, *rows]
    widths = [max(len(row[column]) for row in table) for column in range(len(_COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in table]
    return "\n".join([*lines, "", f"workflow: {workflow_state.status.value}", f"outputs:  {outputs}"])
