"""Jobs and their results: the units a workflow is made of, and what they report back."""

from __future__ import annotations

import functools
import importlib
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hymir import legacy
from hymir.errors import InvalidWorkflow, JobNotImportable

#: Inputs the engine provides itself; a job asks for them by name in ``inputs``.
RESERVED_INPUTS = frozenset({"workflow_id", "job_id", "workflow", "job_state", "workflow_state"})

#: Bounds (seconds) of the random retry delay when a ``Retry`` leaves them out.
DEFAULT_RETRY_WAIT_MIN = 1
DEFAULT_RETRY_WAIT_MAX = 5
#: How many retries a ``Retry`` without ``max_retries`` allows when neither the job's
#: ``meta["max_retries"]`` nor the workflow's ``max_retries`` says otherwise.
DEFAULT_MAX_RETRIES = 3
#: Seconds until the next check when a ``CheckLater`` leaves out ``wait_for``.
DEFAULT_CHECK_INTERVAL = 30
#: The longest wait (seconds) a Retry or CheckLater may ask for: 365 days; longer ones are refused.
MAX_WAIT = 365 * 24 * 3600
#: The most retries a job may be allowed; on Airflow a task gets that many static retries.
RETRY_LIMIT = 100


class JobResult:
    """Base class for the return value of a job."""


@dataclass(frozen=True)
class Success(JobResult):
    """The job completed successfully, potentially with a value to be returned."""

    result: Any = None


@dataclass(frozen=True)
class Failure(JobResult):
    """The job completed with a failure, potentially with a value describing the error."""

    result: Any = None


@dataclass(frozen=True, kw_only=True)
class Retry(JobResult):
    """The job failed due to a transient error and should be run again after a random delay.

    :param wait_min: The lower bound (seconds) of the random delay before the next try.
    :param wait_max: The upper bound (seconds) of the random delay before the next try.
    :param max_retries: The maximum number of times to retry the job.
    """

    wait_min: int | None = None
    wait_max: int | None = None
    max_retries: int | None = None

    def delay_bounds(self) -> tuple[float, float]:
        """The ``(low, high)`` bounds of the delay, with defaults filled in for missing ones."""
        low = self.wait_min
        if low is None:
            low = DEFAULT_RETRY_WAIT_MIN if self.wait_max is None else min(DEFAULT_RETRY_WAIT_MIN, self.wait_max)
        high = self.wait_max if self.wait_max is not None else max(low, DEFAULT_RETRY_WAIT_MAX)
        return low, high


@dataclass(frozen=True, kw_only=True)
class CheckLater(JobResult):
    """The job has not completed yet and should be checked again later.

    This is *not* a retry and does not count towards the job's maximum number of retries.

    :param wait_for: The number of seconds to wait before checking again.
    :param context: A dictionary handed back to the job (``job_state.context``) at the next check.
    """

    wait_for: int | None = None
    context: dict[str, Any] | None = None


def _input_entry(entry: Any, *, pair_types: tuple[type[Sequence[Any]], ...] = (tuple,)) -> str | tuple[str, str]:
    """Normalise one ``inputs`` entry: an output name, or an ``(output, parameter)`` pair.

    In code a pair is a tuple (a list is more likely a mistake); serialized data, coming from
    JSON, passes ``pair_types=(list, tuple)``.
    """
    if isinstance(entry, str):
        return entry
    if isinstance(entry, pair_types) and len(entry) == 2 and all(isinstance(part, str) for part in entry):
        return (entry[0], entry[1])
    raise InvalidWorkflow(
        f"invalid input {entry!r}: an input is an output name or an (output_name, parameter_name) pair of strings"
    )


def input_parameter(entry: str | tuple[str, str]) -> tuple[str, str]:
    """Split an ``inputs`` entry into ``(output_name, parameter_name)``."""
    return (entry, entry) if isinstance(entry, str) else entry


@dataclass
class Job:
    """A job is a single unit of work in the workflow: an importable function and its arguments."""

    name: str
    identity: int | str | None = None
    args: tuple[Any, ...] = field(default_factory=tuple)
    kwargs: dict[str, Any] = field(default_factory=dict)
    output: str | None = None
    inputs: list[str | tuple[str, str]] | None = None
    meta: dict[str, Any] | None = None

    def set(self, *args: Any, **kwargs: Any) -> Job:
        """Set the arguments for the job."""
        return replace(self, args=args, kwargs=kwargs)

    def with_inputs(self, *inputs: str | tuple[str, str]) -> Job:
        """Bind the inputs of this job to the outputs of other jobs.

        :param inputs: The names of the outputs to bind to the inputs; an ``(output, parameter)``
            pair feeds an output into a parameter of another name.
        """
        return replace(self, inputs=[_input_entry(entry) for entry in inputs])

    def with_identity(self, identity: int | str) -> Job:
        """This job under another identity (what a workflow gives each of its jobs)."""
        return Job(self.name, identity, self.args, self.kwargs, self.output, self.inputs, self.meta)

    def with_meta(self, **meta: Any) -> Job:
        """Add metadata to the job."""
        return replace(self, meta={**(self.meta or {}), **meta})

    def with_output(self, name: str) -> Job:
        """Capture the output of this job in a variable, replacing any existing output variable.

        :param name: The name of the variable to capture the output in.
        """
        return replace(self, output=name)

    @property
    def function(self) -> Callable[..., Any]:
        """The plain function this job calls, imported by its dotted name."""
        return resolve_function(self.name)

    def serialize(self) -> dict[str, Any]:
        """Serialize the job to a JSON-safe dictionary."""
        return {
            "name": self.name,
            "identity": self.identity,
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "output": self.output,
            "inputs": None if self.inputs is None else [e if isinstance(e, str) else list(e) for e in self.inputs],
            "meta": self.meta,
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Job:
        """Deserialize a job from a dictionary made by ``serialize`` (or by hymir 0.1.9, with its compact keys)."""
        if not isinstance(data, dict):
            raise InvalidWorkflow(f"a serialized job must be a dict, not {type(data).__name__}")
        data = legacy.job_fields(data)
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise InvalidWorkflow(f"serialized job has unknown keys {sorted(map(repr, unknown))}")
        expected = {
            "name": (str,),
            "identity": (str, int, type(None)),
            "args": (list, tuple),
            "kwargs": (dict,),
            "output": (str, type(None)),
            "inputs": (list, type(None)),
            "meta": (dict, type(None)),
        }
        if "name" not in data:
            raise InvalidWorkflow("serialized job has no 'name'")
        for key, allowed in expected.items():
            if (key in data and not isinstance(data[key], allowed)) or isinstance(data.get(key), bool):
                raise InvalidWorkflow(
                    f"serialized job {data.get('name')!r}: {key!r} must be one of "
                    f"{', '.join(t.__name__ for t in allowed)}, not {type(data[key]).__name__}"
                )
        if not all(isinstance(k, str) for k in data.get("kwargs", {})):
            raise InvalidWorkflow(f"serialized job {data['name']!r}: keyword argument names must be strings")
        inputs = data.get("inputs")
        return cls(
            name=data["name"],
            identity=data.get("identity"),
            args=tuple(data.get("args", ())),
            kwargs=dict(data.get("kwargs", {})),
            output=data.get("output"),
            inputs=None if inputs is None else [_input_entry(entry, pair_types=(list, tuple)) for entry in inputs],
            meta=data.get("meta"),
        )

    @classmethod
    def from_function(cls, f: Callable[..., Any]) -> Job:
        """Create a job from a function (plain or decorated with ``@job``)."""
        if isinstance(f, JobFunction):
            return f()
        return cls(name=dotted_name(f))


def dotted_name(f: Callable[..., Any]) -> str:
    """The ``module.qualname`` by which a function is imported again."""
    return f"{f.__module__}.{f.__qualname__}"


@functools.cache
def resolve_function(name: str) -> Callable[..., Any]:
    """Import the function with this dotted name and unwrap ``@job`` decoration.

    Raises ``JobNotImportable`` with the reason when it cannot be found.
    """
    if not isinstance(name, str) or "." not in name or "<" in name:
        raise JobNotImportable(
            f"{name!r} is not an importable dotted name: a job's function must be defined at the top level "
            "of a module (not a lambda or a nested function)"
        )
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            target: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name and (module_name == error.name or module_name.startswith(error.name + ".")):
                continue
            raise JobNotImportable(f"importing {module_name!r} for job function {name!r} failed: {error}") from error
        except Exception as error:
            raise JobNotImportable(f"importing {module_name!r} for job function {name!r} failed: {error!r}") from error
        try:
            for attribute in parts[split:]:
                target = getattr(target, attribute)
        except AttributeError:
            raise JobNotImportable(f"module {module_name!r} has no function {'.'.join(parts[split:])!r}") from None
        function: Callable[..., Any] = target.function if isinstance(target, JobFunction) else target
        if not callable(function):
            raise JobNotImportable(f"{name!r} is not callable")
        return function
    raise JobNotImportable(f"no module of {name!r} can be imported")


class JobFunction:
    """A function decorated with ``@job``: calling it makes a ``Job`` bound to the arguments.

    The plain function stays reachable as ``.function`` (and ``__wrapped__``).
    """

    def __init__(
        self,
        function: Callable[..., Any],
        inputs: Sequence[str | tuple[str, str]] | None,
        output: str | None,
        meta: dict[str, Any] | None,
    ) -> None:
        functools.update_wrapper(self, function)
        self.function = function
        self._name = dotted_name(function)
        self.inputs = None if inputs is None else [_input_entry(entry) for entry in inputs]
        self.output = output
        self.meta = meta

    def __call__(self, *args: Any, **kwargs: Any) -> Job:
        return Job(
            name=self._name,
            args=args,
            kwargs=kwargs,
            output=self.output,
            inputs=None if self.inputs is None else list(self.inputs),
            meta=None if self.meta is None else dict(self.meta),
        )

    def __repr__(self) -> str:
        return f"<job {dotted_name(self.function)}>"


def job(
    *,
    inputs: Sequence[str | tuple[str, str]] | None = None,
    output: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], JobFunction]:
    """Convenience decorator to create a job from a function.

    The wrapped function should return a Success, Failure, CheckLater, or Retry object to
    explicitly indicate the result of the job (``None`` counts as ``Success(None)``).

    Some inputs are reserved: "workflow_id", "job_id", "workflow", "job_state" and
    "workflow_state" give the running job information about itself.
    """

    def decorate(function: Callable[..., Any]) -> JobFunction:
        return JobFunction(function, inputs, output, meta)

    return decorate


class _CallableModule(types.ModuleType):
    """``hymir.job`` is both this module and the ``job`` decorator.

    ``from hymir import job`` gives the module, and ``@job(...)`` on it means the decorator, so
    ``hymir.job.Success`` (the documented path) and ``from hymir import job`` both work.
    """

    def __call__(
        self,
        *,
        inputs: Sequence[str | tuple[str, str]] | None = None,
        output: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Callable[[Callable[..., Any]], JobFunction]:
        return job(inputs=inputs, output=output, meta=meta)


sys.modules[__name__].__class__ = _CallableModule
