"""Hymir: workflows made of plain Python jobs, run in-process or on Apache Airflow."""

from typing import TYPE_CHECKING

from hymir.errors import (
    HymirError,
    InvalidJobReturn,
    InvalidWorkflow,
    JobNotImportable,
    WorkflowDoesNotExist,
    WorkflowNotFinished,
)
from hymir.executor import Executor, JobState, JobStatus, WorkflowState, WorkflowStatus
from hymir.job import CheckLater, Failure, Job, JobResult, Retry, Success
from hymir.mapping import Map
from hymir.workflow import Chain, Group, Unit, Workflow

if TYPE_CHECKING:
    # Type checkers see the decorator; at run time the name is the module, which is callable too.
    from hymir.job import job
else:
    from hymir import job  # the module, which is also the @job decorator (see hymir.job._CallableModule)

__all__ = [
    "Chain",
    "CheckLater",
    "Executor",
    "Failure",
    "Group",
    "HymirError",
    "InvalidJobReturn",
    "InvalidWorkflow",
    "Job",
    "JobNotImportable",
    "JobResult",
    "JobState",
    "JobStatus",
    "Map",
    "Retry",
    "Success",
    "Unit",
    "Workflow",
    "WorkflowDoesNotExist",
    "WorkflowNotFinished",
    "WorkflowState",
    "WorkflowStatus",
    "job",
]
