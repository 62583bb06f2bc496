"""Every validation error of a workflow, where ``Workflow()`` raises only the first."""

from __future__ import annotations

from hymir.errors import InvalidWorkflow
from hymir.validation import collect_errors
from hymir_cli.loading import Target, load_target


def find_problems(spec: str) -> tuple[Target | None, list[str]]:
    """Load ``MODULE:WORKFLOW`` and return it with every validation error found (none: it is valid).

    Each job is checked by the core, which records the job's error and goes on to the next
    (``collect_errors``). The target is None when an error of the whole graph (a cycle, a member
    that is not a job, bad params) stopped the build. ``TargetError`` passes through.
    """
    with collect_errors() as errors:
        try:
            target = load_target(spec)
        except InvalidWorkflow as error:
            errors.append(str(error))
            return None, errors
    return target, errors
