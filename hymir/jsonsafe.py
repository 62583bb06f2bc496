"""Checks that a value survives a trip through JSON unchanged, so no engine loses or alters it."""

from __future__ import annotations

import math
from typing import Any

_SCALARS = (str, int, bool, type(None))


def json_problem(value: Any, where: str = "value") -> str | None:
    """Describe the first part of ``value`` that JSON cannot carry unchanged, or None if it all can.

    JSON-safe means: None, bool, int, finite float, str, list, and dict with string keys, nested
    freely. Tuples are refused because they come back as lists.
    """
    stack = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, _SCALARS):
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
                stack.append((element, f"{path}[{key!r}]"))
            continue
        hint = " (use a list)" if isinstance(item, tuple) else ""
        return f"{path} is of type {type(item).__qualname__}, which is not JSON-safe{hint}"
    return None
