"""What a Hymir task keeps in Airflow between tries, and how Airflow states map onto Hymir's."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hymir.executor import JobStatus, WorkflowStatus
from hymir.jsonsafe import json_problem

#: The key under which a Hymir task keeps its record in ``context["task_state_store"]``.
STORE_KEY = "hymir"

_JOB_STATUS = {
    "success": JobStatus.SUCCESS,
    "failed": JobStatus.FAILURE,
    "running": JobStatus.STARTING,
}
_WORKFLOW_STATUS = {
    "queued": WorkflowStatus.PENDING,
    "running": WorkflowStatus.RUNNING,
    "success": WorkflowStatus.SUCCESS,
    "failed": WorkflowStatus.FAILURE,
}


def plain_state(state: Any) -> str | None:
    """An Airflow state (enum member, string or None) as its string value."""
    return None if state is None else str(getattr(state, "value", state))


def job_status(task_instance_state: Any) -> JobStatus:
    """The Hymir status of a task instance state; a task that has not run (yet or again) is PENDING."""
    return _JOB_STATUS.get(plain_state(task_instance_state), JobStatus.PENDING)


def workflow_status(dag_run_state: Any) -> WorkflowStatus:
    """The Hymir status of a DAG run state."""
    return _WORKFLOW_STATUS.get(plain_state(dag_run_state), WorkflowStatus.PENDING)


def storable(value: Any) -> Any:
    """``value`` itself when JSON can carry it, else its ``repr`` (so it is still shown, not lost)."""
    return value if json_problem(value) is None else repr(value)


@dataclass
class JobRecord:
    """The part of a job's state that only the job knows: kept in the task state store.

    It survives reschedules, retries and clears, and outlives the run for ``AirflowExecutor``.
    """

    checks: int = 0
    context: dict[str, Any] = field(default_factory=dict)
    exception: str | None = None
    result: Any = None

    @classmethod
    def from_stored(cls, stored: Any) -> JobRecord:
        if not isinstance(stored, dict):
            return cls()
        known = {key: stored[key] for key in cls.__dataclass_fields__ if key in stored}
        return cls(**known)

    def to_stored(self) -> dict[str, Any]:
        return asdict(self)
