"""The engine-neutral executor API, and the states of jobs and workflows it reports."""

from __future__ import annotations

import enum
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from hymir.errors import InvalidWorkflow
from hymir.workflow import Workflow


class JobStatus(str, enum.Enum):
    """Where a job is: not started or waiting to run again, running, or finished."""

    PENDING = "pending"
    STARTING = "starting"
    SUCCESS = "success"
    FAILURE = "failure"


class WorkflowStatus(str, enum.Enum):
    """Where a workflow run is."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"


_FINISHED = {JobStatus.SUCCESS, JobStatus.FAILURE, WorkflowStatus.SUCCESS, WorkflowStatus.FAILURE}


_S = TypeVar("_S", bound="_State")


def _deserialize_state(cls: type[_S], data: dict[str, Any], status_type: type[enum.Enum]) -> _S:
    if not isinstance(data, dict) or "status" not in data:
        raise InvalidWorkflow(f"a serialized {cls.__name__} is a dict with a 'status', not {data!r}")
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise InvalidWorkflow(f"serialized {cls.__name__} has unknown keys {sorted(map(repr, unknown))}")
    try:
        status = status_type(data["status"])
    except ValueError:
        raise InvalidWorkflow(f"unknown {cls.__name__} status {data['status']!r}") from None
    for name, types in _FIELD_TYPES.items():
        if name in data and name in names and not _has_type(data[name], types):
            expected = " or ".join(t.__name__ for t in types)
            raise InvalidWorkflow(f"serialized {cls.__name__}: {name!r} must be {expected}")
    return cls(**{**data, "status": status})


#: The types serialized state fields must have (``result`` may be any JSON value).
_FIELD_TYPES = {"retries": (int,), "checks": (int,), "context": (dict,), "exception": (str, type(None))}


def _has_type(value: Any, types: tuple[type, ...]) -> bool:
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


class _State:
    """What job and workflow states share: finishedness, and a JSON-safe dict form.

    ``Status`` is the state's status enum, nested as hymir 0.1.9 nested it (``JobState.Status.SUCCESS``).
    """

    Status: ClassVar[type[enum.Enum]]
    # Declared for type checkers: the subclasses are dataclasses with a status field.
    __dataclass_fields__: ClassVar[dict[str, Any]]
    status: JobStatus | WorkflowStatus

    @property
    def is_finished(self) -> bool:
        return self.status in _FINISHED

    def serialize(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status.value}

    @classmethod
    def deserialize(cls: type[_S], data: dict[str, Any]) -> _S:
        return _deserialize_state(cls, data, cls.Status)


@dataclass
class JobState(_State):
    """What is known of one job in a run.

    ``retries`` counts Retry results acted upon, ``checks`` counts CheckLater results, ``context``
    is the latest CheckLater context, ``exception`` the traceback or message of a failure, and
    ``result`` the value of the job's Success or Failure.
    """

    status: JobStatus = JobStatus.PENDING
    retries: int = 0
    checks: int = 0
    context: dict[str, Any] = field(default_factory=dict)
    exception: str | None = None
    result: Any = None

    Status: ClassVar[type[JobStatus]] = JobStatus


@dataclass
class WorkflowState(_State):
    """What is known of a workflow run as a whole."""

    status: WorkflowStatus = WorkflowStatus.PENDING

    Status: ClassVar[type[WorkflowStatus]] = WorkflowStatus


class Executor(ABC):
    """Runs workflows and reports on them; every engine implements this same API."""

    @abstractmethod
    def run(self, workflow: Workflow, *, params: dict[str, Any] | None = None) -> str:
        """Start running ``workflow`` with ``params`` overriding its parameters; return the new run's id."""

    @abstractmethod
    def workflow(self, workflow_id: str) -> Workflow:
        """The workflow of a run; raises ``WorkflowDoesNotExist`` for an unknown id."""

    @abstractmethod
    def workflow_state(self, workflow_id: str) -> WorkflowState:
        """The state of a run as a whole."""

    @abstractmethod
    def job_states(self, workflow_id: str, job_ids: list[str] | None = None) -> dict[str, JobState]:
        """The states of the given jobs (every job and callback when None), by job id."""

    @abstractmethod
    def outputs(self, workflow_id: str) -> dict[str, list[Any]]:
        """Every value of every output, by output name, producers in workflow order (as list inputs get them)."""

    @abstractmethod
    def clear(self, workflow_id: str) -> None:
        """Forget a finished run; raises ``WorkflowNotFinished`` while it is still going."""

    def job_state(self, workflow_id: str, job_id: str) -> JobState:
        """The state of one job of a run."""
        return self.job_states(workflow_id, [job_id])[job_id]

    def progress(self, workflow_id: str) -> tuple[int, int]:
        """``(finished, total)`` over the workflow's jobs, callbacks aside."""
        job_ids = list(self.workflow(workflow_id).jobs)
        states = self.job_states(workflow_id, job_ids)
        return sum(state.is_finished for state in states.values()), len(job_ids)

    def wait(
        self, workflow_id: str, *, block: bool = True, sleep: float = 0.5, timeout: float | None = None
    ) -> WorkflowState:
        """Wait until the run finishes and return its state; with ``block=False`` return the state at once.

        Polls every ``sleep`` seconds; raises ``TimeoutError`` after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        state = self.workflow_state(workflow_id)
        while block and not state.is_finished:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"workflow {workflow_id} did not finish within {timeout} s")
            time.sleep(sleep)
            state = self.workflow_state(workflow_id)
        return state

    def __getitem__(self, workflow_id: str) -> WorkflowState:
        """``executor[workflow_id]`` is the run's state, as in hymir 0.1.9; ``workflow()`` gives its workflow."""
        return self.workflow_state(workflow_id)

    def __delitem__(self, workflow_id: str) -> None:
        """``del executor[workflow_id]`` clears the run."""
        self.clear(workflow_id)
