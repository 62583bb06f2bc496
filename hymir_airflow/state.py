"""What a Hymir task keeps in Airflow between tries, and how Airflow states map onto Hymir's."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from hymir.executor import JobStatus, WorkflowStatus
from hymir.mapping import split_item_id
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


def instance_key(task_id: str, map_index: int) -> str:
    """How Hymir's readers name one task instance: its task id, with ``[n]`` for item n of a mapped task.

    Task ids have no brackets, so ``load[2]`` names item 2 of task ``load``, as ``"3[2]"`` names
    item 2 of job 3.
    """
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def split_instance_key(instance: str) -> tuple[str, int]:
    """``(task_id, map_index)`` of an ``instance_key``; -1 for a task that is not mapped (or no such key)."""
    return split_item_id(instance) or (instance, -1)


def plain_state(state: Any) -> str | None:
    """An Airflow state (enum member, string or None) as its string value."""
    return None if state is None else str(getattr(state, "value", state))


def job_status(task_instance_state: Any) -> JobStatus:
    """The Hymir status of a task instance state; a task that has not run (yet or again) is PENDING."""
    return _JOB_STATUS.get(plain_state(task_instance_state), JobStatus.PENDING)


def mapped_status(item_states: dict[int, str | None]) -> JobStatus:
    """The Hymir status of a mapped job from its task instances' states by map index (-1: not expanded).

    For an ON_FINISHED callback's view of the jobs before it: a mapped task that Airflow skipped
    without expanding it had no item to run, so its job succeeded (when a fail_fast run skipped it
    instead, another job failed and the run's outcome is a failure anyway). Otherwise the job is
    done once every item is: a success if each succeeded.
    """
    items = [job_status(state) for index, state in item_states.items() if index >= 0]
    if not items:
        return JobStatus.SUCCESS if item_states.get(-1) == "skipped" else job_status(item_states.get(-1))
    if all(status is JobStatus.SUCCESS for status in items):
        return JobStatus.SUCCESS
    finished = all(status in (JobStatus.SUCCESS, JobStatus.FAILURE) for status in items)
    return JobStatus.FAILURE if finished else JobStatus.STARTING


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


def member_value_key(job_id: str) -> str:
    """The XCom key under which a unit's task keeps the value of its member ``job_id`` (``job_3``)."""
    return f"job_{job_id}"


@dataclass
class UnitRecord:
    """What a unit's task keeps between its pokes and tries, in the same store as a job's record.

    ``retries`` counts the unit's own retries (failed tries acted upon), ``checks`` its pauses
    for a member that asked to run again later, ``try_number`` is the
    Airflow try that ``members`` belong to: a new try starts every member over. Each member's
    entry is a ``JobRecord`` with its ``status`` (a success's ``result`` is its value, which the
    task pushes again after every poke). ``exception`` is why the unit's last try failed.
    """

    retries: int = 0
    checks: int = 0
    try_number: int = 0
    retry_at: float | None = None
    exception: str | None = None
    members: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_stored(cls, stored: Any) -> UnitRecord:
        """The record from what the store holds (anything else, or nothing, gives an empty record)."""
        if not isinstance(stored, dict) or not isinstance(stored.get("members"), dict):
            return cls()
        known = {f.name: decode(stored[f.name]) for f in fields(cls) if f.name in stored and f.name != "members"}
        return cls(**known, members=stored["members"])

    def to_stored(self) -> dict[str, Any]:
        """The record as the store keeps it: JSON that Airflow returns unchanged."""
        scalars = {f.name: encode(getattr(self, f.name), top_level=False) for f in fields(self) if f.name != "members"}
        return {**scalars, "members": self.members}

    def member(self, job_id: str) -> tuple[JobStatus, JobRecord]:
        """A member's status and record in the current try: PENDING and empty for one that has not run."""
        stored = self.members.get(job_id)
        if not isinstance(stored, dict):
            return JobStatus.PENDING, JobRecord()
        status = stored.get("status")
        known = status if status in {s.value for s in JobStatus} else JobStatus.PENDING.value
        return JobStatus(known), JobRecord.from_stored(stored)
