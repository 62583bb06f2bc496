"""The errors Hymir raises, so callers can catch exactly what they expect."""

from __future__ import annotations

from collections.abc import Sequence


class HymirError(Exception):
    """Base class of every error raised by Hymir."""


class InvalidWorkflow(HymirError, ValueError):
    """A workflow (or serialized workflow data) is malformed; raised when it is built.

    ``problems`` lists every problem found, one message each: ``Workflow()`` checks all its jobs
    before it raises, so a tool (``hymir validate``) can show them all at once. The error's own
    message is the first problem, followed by the others on their own lines.
    """

    def __init__(self, message: str, *, problems: Sequence[str] | None = None):
        super().__init__(message)
        self.problems: list[str] = list(problems) if problems else [message]

    @classmethod
    def of(cls, problems: Sequence[str]) -> InvalidWorkflow:
        """One error for every problem in ``problems`` (at least one)."""
        return cls("\n".join(problems), problems=problems)


class InvalidJobReturn(HymirError, TypeError):
    """A job returned something other than a JobResult or None."""


class MissingValue(HymirError, LookupError):
    """A value a job's input needs is gone: its producer succeeded, but the engine no longer has the value."""


class JobNotImportable(InvalidWorkflow):
    """A job's function cannot be imported by its dotted name."""


class WorkflowDoesNotExist(HymirError, KeyError, ValueError):
    """The executor knows no workflow run with this id (a ValueError too, as in hymir 0.1.9)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "workflow does not exist"


class WorkflowNotFinished(HymirError, RuntimeError):
    """The operation needs a finished workflow run, and this one is still going."""
