"""Turning a ``MODULE:WORKFLOW`` argument into the workflow it names.

The module is imported with the current directory on ``sys.path`` (so a project's own modules
work as they would in ``python -c``); the attribute is a ``Workflow`` or a function called
without arguments that returns one. Anything that cannot name a workflow raises
``TargetError``, whose message says what is missing; errors of the workflow itself
(``InvalidWorkflow``) and of the user's code pass through unchanged.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from dataclasses import dataclass

from hymir.workflow import Workflow


class TargetError(Exception):
    """``MODULE:WORKFLOW`` does not name a workflow: a bad spec, module or attribute."""


@dataclass(frozen=True)
class Target:
    """A loaded ``MODULE:WORKFLOW``: where it came from, and the workflow it gave.

    ``is_factory`` is true when the attribute is a function that had to be called to get the
    workflow (a generated DAG file must call it too).
    """

    module: str
    attribute: str
    is_factory: bool
    workflow: Workflow

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.attribute}"


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``MODULE:WORKFLOW`` into a dotted module name and an attribute name."""
    module, _, attribute = spec.partition(":")
    if not (all(part.isidentifier() for part in module.split(".")) and attribute.isidentifier()):
        raise TargetError(f"{spec!r} is not MODULE:WORKFLOW, e.g. hymir.examples.words:words_workflow")
    return module, attribute


def load_target(spec: str) -> Target:
    """Import the module, fetch the attribute and, if it is a function, call it for the workflow."""
    module_name, attribute = parse_spec(spec)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and (module_name == error.name or module_name.startswith(error.name + ".")):
            raise TargetError(
                f"no module named {module_name!r} (searched the current directory and sys.path)"
            ) from None
        raise
    if not hasattr(module, attribute):
        raise TargetError(f"module {module_name!r} has no attribute {attribute!r}")
    value = getattr(module, attribute)
    if isinstance(value, Workflow):
        return Target(module_name, attribute, False, value)
    if not callable(value):
        raise TargetError(f"{spec} is {value!r}, not a Workflow or a function returning one")
    try:
        inspect.signature(value).bind()
    except TypeError:
        raise TargetError(f"{spec} cannot be called without arguments, so it cannot make the workflow") from None
    except ValueError:
        pass  # no signature to check (a builtin, say): calling it tells
    workflow = value()
    if not isinstance(workflow, Workflow):
        raise TargetError(f"{spec}() returned a {type(workflow).__name__}, not a Workflow")
    return Target(module_name, attribute, True, workflow)
