"""What a Hymir task keeps in Airflow between tries, and how Airflow states map onto Hymir's."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from hymir.executor import JobStatus, WorkflowStatus
from hymir_airflow.values import decode, encode

#: The key under which a Hymir task keeps its record (in ``context["task_state_store"]`` on 3.3+).
STORE_KEY = "hymir"

_JOB_STATUS: dict[str | None, JobStatus] = {
    "success": JobStatus.SUCCESS,
    "failed": JobStatus.FAILURE,
    "running": JobStatus.STARTING,
}
_WORKFLOW_STATUS: dict[str | None, WorkflowStatus] = {
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


@dataclass
class JobRecord:
    """The part of a job's state that only the job knows: kept in the task state store (3.3+).

    It survives reschedules, retries and clears, and outlives the run for ``AirflowExecutor``.
    ``retries`` counts the job's Retry results acted upon (Airflow's try number also counts
    retries the job did not ask for). ``context``, ``exception`` and ``result`` (a Failure's
    value) are kept for display, passed through Airflow's secrets masker; when masking changed
    the context, ``sealed_context`` holds the real one, encrypted with Airflow's Fernet key, so
    the job still gets it back at its next check. ``retry_at`` (before Airflow 3.3, which cannot
    wait a delay chosen per retry) is when the retry the job asked for may run, as a Unix time.
    ``waiting_since`` is when a job that defers its checks first asked to be checked later in its
    current try, as a Unix time: its ``check_timeout`` counts from then.
    """

    retries: int = 0
    checks: int = 0
    context: dict[str, Any] = field(default_factory=dict)
    sealed_context: str | None = None
    exception: str | None = None
    result: Any = None
    retry_at: float | None = None
    waiting_since: float | None = None

    @classmethod
    def from_stored(cls, stored: Any) -> JobRecord:
        """The record from what the store holds (anything else, or nothing, gives an empty record)."""
        if not isinstance(stored, dict):
            return cls()
        known = {f.name: decode(stored[f.name]) for f in fields(cls) if f.name in stored}
        return cls(**known)

    def to_stored(self) -> dict[str, Any]:
        """The record as the store keeps it: JSON that Airflow returns unchanged."""
        return {f.name: encode(getattr(self, f.name), top_level=False) for f in fields(self)}
