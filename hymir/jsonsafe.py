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
    stack = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, _SCALARS):
            continue
        if isinstance(item, str):
            if not _is_text(item):
                return f"{path} is a string with a lone surrogate character, which is not valid Unicode text"
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return f"{path} is {item!r}, which JSON cannot represent"
            continue
        if isinstance(item, list):
            stack.extend((element, f"{path}[{index}]") for index, element in enumerate(item))
            continue
        if isinstance(item, dict):
            for key, element in item.items():
                if not isinstance(key, str):
                    return f"{path} has the key {key!r} of type {type(key).__name__}; JSON keys must be strings"
                if not _is_text(key):
                    return f"{path} has a key with a lone surrogate character, which is not valid Unicode text"
                stack.append((element, f"{path}[{key!r}]"))
            continue
        hint = " (use a list)" if isinstance(item, tuple) else ""
        return f"{path} is of type {type(item).__qualname__}, which is not JSON-safe{hint}"
    return None


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
