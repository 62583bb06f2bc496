"""Checks that a value survives a trip through JSON unchanged, so no engine loses or alters it."""

from __future__ import annotations

import math
from typing import Any

_SCALARS = (int, bool, type(None))
#: Values that need no walk: always JSON-safe as they are.
_PLAIN = frozenset({int, bool, type(None)})


def json_problem(value: Any, where: str = "value") -> str | None:
    """Describe the first part of ``value`` that JSON cannot carry unchanged, or None if it all can.

    JSON-safe means: None, bool, int, finite float, str (valid Unicode: no lone surrogates), list,
    and dict with string keys, nested freely. Tuples are refused because they come back as lists.
    """
    if type(value) in _PLAIN or (type(value) in (list, dict) and not value):
        return None
    if type(value) is list and all(type(item) in _PLAIN or (type(item) is str and item.isascii()) for item in value):
        return None
    # A part's path is spelled out only when it has a problem: (parent, index) for a list item,
    # (parent, (key,)) for a dict value, the text ``where`` at the top.
    stack: list[tuple[Any, Any]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, _SCALARS):
            continue
        if isinstance(item, str):
            if not (item.isascii() or _is_text(item)):
                return f"{_spelled(path)} is a string with a lone surrogate character, which is not valid Unicode text"
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return f"{_spelled(path)} is {item!r}, which JSON cannot represent"
            continue
        if isinstance(item, list):
            stack.extend((element, (path, index)) for index, element in enumerate(item))
            continue
        if isinstance(item, dict):
            for key, element in item.items():
                if not isinstance(key, str):
                    return (
                        f"{_spelled(path)} has the key {key!r} of type {type(key).__name__}; JSON keys must be strings"
                    )
                if not (key.isascii() or _is_text(key)):
                    return (
                        f"{_spelled(path)} has a key with a lone surrogate character, which is not valid Unicode text"
                    )
                stack.append((element, (path, (key,))))
            continue
        hint = " (use a list)" if isinstance(item, tuple) else ""
        return f"{_spelled(path)} is of type {type(item).__qualname__}, which is not JSON-safe{hint}"
    return None


def _spelled(path: Any) -> str:
    """A path of ``json_problem`` as text: ``where[0]['key']``."""
    steps = []
    while not isinstance(path, str):
        path, step = path
        steps.append(f"[{step}]" if isinstance(step, int) else f"[{step[0]!r}]")
    return path + "".join(reversed(steps))


def _is_text(text: str) -> bool:
    """True when ``text`` can be written as UTF-8 (it has no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON-safe value: every list and dict is new, scalars are shared (they are immutable)."""
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    return value
