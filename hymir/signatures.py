"""What a job function accepts: its signature, its list parameters, and whether a call fits it.

Validation asks these questions of every job; the answers depend on the function alone (and on
the count and names of the arguments), so they are worked out once per function.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FunctionSignature:
    """What validation needs to know about a job function's parameters."""

    signature: inspect.Signature
    accepts_any_keyword: bool
    list_parameters: frozenset[str]
    bare_list_parameters: frozenset[str]


@functools.cache
def signature_of(function: Callable[..., Any]) -> FunctionSignature:
    """What ``function`` accepts, with its annotations evaluated where they can be (cached per function)."""
    try:
        signature = inspect.signature(function, eval_str=True)
    except Exception:
        signature = inspect.signature(function)
    parameters = signature.parameters.values()
    return FunctionSignature(
        # Messages show what the job is called with; the return annotation only adds noise there.
        signature=signature.replace(return_annotation=inspect.Signature.empty),
        accepts_any_keyword=any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters),
        list_parameters=frozenset(p.name for p in parameters if _is_list_annotation(p.annotation)),
        bare_list_parameters=frozenset(p.name for p in parameters if _is_bare_list(p.annotation)),
    )


def _without_none(annotation: Any) -> Any:
    """``X`` for ``Optional[X]`` and ``X | None`` (also when left as a string); else the annotation itself."""
    if isinstance(annotation, str):
        text = annotation.replace(" ", "")
        for prefix in ("Optional[", "typing.Optional["):
            if text.startswith(prefix) and text.endswith("]"):
                return text[len(prefix) : -1]
        parts = [part for part in text.split("|") if part != "None"]
        return parts[0] if len(parts) == 1 else text
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [member for member in typing.get_args(annotation) if member is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _is_list_annotation(annotation: Any) -> bool:
    """True for ``list``, ``list[...]``, ``typing.List[...]`` and their ``Optional``/``| None`` forms."""
    annotation = _without_none(annotation)
    if isinstance(annotation, str):
        return annotation in ("list", "List") or annotation.startswith(("list[", "List[", "typing.List["))
    return annotation is list or typing.get_origin(annotation) is list


def _is_bare_list(annotation: Any) -> bool:
    """True for a ``list`` annotation that names no item type: easy to mistake for a single value."""
    annotation = _without_none(annotation)
    return annotation in ("list", "List", list, typing.List)  # noqa: UP006 (typing.List the value, not an annotation)


@functools.lru_cache(maxsize=4096)
def binding_problem(function: Callable[..., Any], positional: int, keywords: tuple[str, ...]) -> str | None:
    """Why ``positional`` arguments and these keyword names do not fit ``function``, or None.

    Whether a call fits depends on the count and the names only, so jobs of one function called
    alike are checked once.
    """
    try:
        signature_of(function).signature.bind(*range(positional), **dict.fromkeys(keywords))
    except TypeError as error:
        return str(error)
    return None
