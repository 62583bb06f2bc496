"""Every validation error of a workflow, where a traceback shows them as one exception."""

from __future__ import annotations

from hymir.errors import InvalidWorkflow
from hymir_cli.loading import Target, load_target


def find_problems(spec: str) -> tuple[Target | None, list[str]]:
    """Load ``MODULE:WORKFLOW`` and return it with every validation error found (none: it is valid).

    ``Workflow()`` checks every job and lists each one's error in ``InvalidWorkflow.problems``;
    the target is None when there are any. ``TargetError`` passes through.
    """
    try:
        return load_target(spec), []
    except InvalidWorkflow as error:
        return None, error.problems
