"""Calling a job and checking what it returned: the part of running a job every engine shares."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping

from hymir.errors import InvalidJobReturn
from hymir.job import CheckLater, Failure, JobResult, Retry, Success
from hymir.jsonsafe import json_problem
from hymir.validation import InputBinding, describe
from hymir.workflow import Workflow


@dataclass(frozen=True)
class JobCall:
    """What one call of a job gave: its checked result, and the inputs it received by parameter."""

    result: JobResult
    inputs: dict[str, Any]


def call_job(
    workflow: Workflow,
    job_id: str,
    values_of: Callable[[InputBinding], list[Any]],
    provided: Mapping[str, Any],
    *,
    args: tuple | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> JobCall:
    """Call a job's function with its arguments and inputs, and return its checked result.

    ``values_of(binding)`` gives the values that the binding's producers made, in graph order;
    ``provided`` gives the engine's values of the reserved inputs and the run's params; ``args`` and ``kwargs``
    replace the job's own arguments (Airflow passes them rendered). Exceptions of the job propagate.
    """
    job = workflow[job_id]
    args = job.args if args is None else args
    inputs: dict[str, Any] = {}
    for binding in workflow.input_bindings(job_id):
        if binding.producers is None:
            inputs[binding.parameter] = provided[binding.output]
        else:
            values = values_of(binding)
            inputs[binding.parameter] = values if binding.many else (values[0] if values else None)
    kwargs = {**(job.kwargs if kwargs is None else kwargs), **inputs}
    return JobCall(check_result(workflow, job_id, job.function(*args, **kwargs)), inputs)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def summarize(workflow: Workflow, job_id: str, call: JobCall, next_at: datetime | None = None) -> str:
    """One line a person can read: the job, its inputs by name (short values), the result, what's next."""
    hidden = ("workflow", "job_state", "workflow_state")
    shown = {name: value for name, value in call.inputs.items() if name not in hidden}
    inputs = ", ".join(f"{name}={_short(value)}" for name, value in shown.items())
    line = f"{describe(workflow[job_id])}: {inputs or 'no inputs'} -> {_short(call.result, 200)}"
    if next_at is not None:
        what = "next check" if isinstance(call.result, CheckLater) else "next try"
        line += f"; {what} at {next_at.isoformat(timespec='seconds')}"
    return line


def failure_message(workflow: Workflow, job_id: str, result: Failure) -> str:
    """Why a job that returned Failure failed, in the words both engines record."""
    return f"{describe(workflow[job_id])} returned Failure({result.result!r})"


def gave_up_message(workflow: Workflow, job_id: str, retries: int, cap: int) -> str:
    """Why a job that asked for yet another retry failed, in the words both engines record."""
    return f"{describe(workflow[job_id])} asked for a retry but gave up after {retries} retries (max_retries={cap})"


def _is_number(value: Any, *, allow_none: bool = True) -> bool:
    if value is None:
        return allow_none
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value >= 0


def check_result(workflow: Workflow, job_id: str, result: Any) -> JobResult:
    """Return the job's result as a JobResult (None counts as Success(None)).

    Raises ``InvalidJobReturn`` naming the job when the result is not one Hymir can act on.
    """
    job = workflow[job_id]
    who = describe(job)
    if result is None:
        result = Success(None)
    if isinstance(result, Success):
        problem = json_problem(result.result, "the value")
        if problem:
            label = f"output {job.output!r}" if job.output else "its Success value"
            raise InvalidJobReturn(f"{who}: {label} cannot be stored: {problem}")
        return result
    if isinstance(result, Failure):
        return result
    if isinstance(result, Retry):
        if not (_is_number(result.wait_min) and _is_number(result.wait_max)):
            raise InvalidJobReturn(f"{who} returned {result!r}: wait_min and wait_max must be numbers >= 0")
        low, high = result.delay_bounds()
        if low > high:
            raise InvalidJobReturn(f"{who} returned {result!r}: wait_min is greater than wait_max")
        if result.max_retries is not None and not (
            isinstance(result.max_retries, int) and not isinstance(result.max_retries, bool) and result.max_retries >= 0
        ):
            raise InvalidJobReturn(f"{who} returned {result!r}: max_retries must be a whole number >= 0")
        return result
    if isinstance(result, CheckLater):
        if not _is_number(result.wait_for):
            raise InvalidJobReturn(f"{who} returned {result!r}: wait_for must be a number of seconds >= 0")
        if result.context is not None:
            problem = json_problem(result.context, "context")
            if not isinstance(result.context, dict) or problem:
                reason = problem or f"context is a {type(result.context).__name__}, not a dict"
                raise InvalidJobReturn(f"{who} returned CheckLater whose {reason}")
        return result
    raise InvalidJobReturn(
        f"{who} returned {result!r} ({type(result).__name__}); a job must return Success, Failure, Retry, "
        "CheckLater or None"
    )
