"""Calling a job: binding its arguments and inputs, and the one line that tells what it returned."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from hymir.binding import InputBinding
from hymir.job import CheckLater, Success
from hymir.jsonsafe import json_copy
from hymir.labels import describe
from hymir.workflow import Workflow


@dataclass(frozen=True)
class JobCall:
    """What one call of a job gave: what it returned (unchecked), its arguments, and its inputs by parameter."""

    returned: Any
    inputs: dict[str, Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def call_job(
    workflow: Workflow,
    job_id: str,
    values_of: Callable[[InputBinding], list[Any]],
    provided: Mapping[str, Any],
    *,
    args: tuple[Any, ...] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    item: Any = None,
) -> JobCall:
    """Call a job's function with its arguments and inputs, and return what it returned.

    ``values_of(binding)`` gives the values that the binding's producers made, in workflow order;
    ``provided`` gives the engine's values of the reserved inputs and the run's params; ``args`` and
    ``kwargs`` replace the job's own arguments (Airflow passes them as the task holds them); ``item``
    is the item an item of a mapped job (``job_id`` ``"3[0]"``) gets for the input it goes over. The job
    gets its own copy of its arguments, so a job that changes them changes no later try or run.
    Exceptions of the job propagate.
    """
    job = workflow[job_id]
    given_args = tuple(job.args if args is None else args)
    given_kwargs = dict(job.kwargs if kwargs is None else kwargs)
    inputs: dict[str, Any] = {}
    for binding in workflow.input_bindings(job_id):
        if binding.each:
            inputs[binding.parameter] = json_copy(item)
        elif binding.producers is None:
            inputs[binding.parameter] = provided[binding.output]
        else:
            values = values_of(binding)
            inputs[binding.parameter] = values if binding.many else (values[0] if values else None)
    returned = job.function(*json_copy(list(given_args)), **json_copy(given_kwargs), **inputs)
    return JobCall(returned, inputs, given_args, given_kwargs)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def summarize(workflow: Workflow, job_id: str, call: JobCall, delay: float | None = None) -> str:
    """One line a person can read: the job, its arguments and inputs (short values), the result, and
    when it runs again when the result asks for another try or check in ``delay`` seconds."""
    hidden = ("workflow", "job_state", "workflow_state")
    shown = {**call.kwargs, **{name: value for name, value in call.inputs.items() if name not in hidden}}
    inputs = ", ".join([*map(_short, call.args), *(f"{name}={_short(value)}" for name, value in shown.items())])
    returned = Success(None) if call.returned is None else call.returned
    line = f"{describe(workflow[job_id])}: {inputs or 'no inputs'} -> {_short(returned, 200)}"
    if delay is not None:
        next_at = datetime.now(timezone.utc) + timedelta(seconds=delay)
        what = "next check" if isinstance(returned, CheckLater) else "next try"
        line += f"; {what} at {next_at.isoformat(timespec='seconds')}"
    return line
