"""Which modules a workflow read from data may import job functions from.

Deserializing a workflow imports and later calls the functions it names, so data from outside
must not be able to name any function at all (``os.system``, say). Only module prefixes the
user allows are accepted; nothing is allowed unless configured. Hymir's own modules are never
job functions, whatever is allowed (``hymir.job.resolve_function`` would import anything by
name), except the example jobs of ``hymir.examples``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from hymir.errors import InvalidWorkflow, JobNotImportable
from hymir.job import dotted_name, resolve_function

#: Comma-separated module prefixes allowed when ``allowed_modules`` is not given.
ALLOWED_MODULES_VARIABLE = "HYMIR_ALLOWED_MODULES"

#: Hymir's own packages: refused as job functions even when an allowed prefix covers them.
HYMIR_PACKAGES = ("hymir", "hymir_airflow", "hymir_cli")

#: The one part of Hymir that holds job functions.
HYMIR_EXAMPLES = "hymir.examples"


def allowed_prefixes(allowed_modules: Iterable[str] | None) -> tuple[str, ...]:
    """The prefixes in force: the given ones, else those of ``HYMIR_ALLOWED_MODULES``."""
    if allowed_modules is None:
        allowed_modules = os.environ.get(ALLOWED_MODULES_VARIABLE, "").split(",")
    if isinstance(allowed_modules, str):
        raise TypeError("allowed_modules is a list of module prefixes, not a single string")
    return tuple(prefix.strip().rstrip(".") for prefix in allowed_modules if prefix and prefix.strip())


def check_allowed(name: str, prefixes: tuple[str, ...]) -> None:
    """Refuse, before any import, a job function outside the allowed module prefixes, or inside Hymir itself."""
    if not any(_under(name, prefix) for prefix in prefixes):
        allowed = ", ".join(prefixes) if prefixes else "none"
        raise InvalidWorkflow(
            f"job function {name!r} is not in an allowed module (allowed: {allowed}); pass "
            f"allowed_modules=[...] to Workflow.deserialize or set {ALLOWED_MODULES_VARIABLE}"
        )
    if any(_under(name, package) for package in HYMIR_PACKAGES) and not _under(name, HYMIR_EXAMPLES):
        raise InvalidWorkflow(
            f"job function {name!r} is in Hymir's own modules, which are never job functions whatever "
            f"allowed_modules or {ALLOWED_MODULES_VARIABLE} says (only {HYMIR_EXAMPLES} is)"
        )


def _under(name: str, prefix: str) -> bool:
    """Whether the dotted ``name`` is ``prefix`` or lies inside it, on whole module names."""
    return name == prefix or name.startswith(prefix + ".")


def check_function_allowed(name: str, prefixes: tuple[str, ...]) -> None:
    """Refuse a job whose name, allowed itself, leads out of its module (``allowed.module.os.system``).

    Call it after ``check_allowed``: resolving imports only the allowed module. A name that does
    not resolve is left for validation to report.
    """
    try:
        function = resolve_function(name)
    except JobNotImportable:
        return
    check_allowed(dotted_name(function), prefixes)
