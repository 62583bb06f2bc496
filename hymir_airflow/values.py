"""How a job's values travel through Airflow unchanged: a small, readable encoding around XCom's limits.

Airflow's XCom serialization alters a few JSON values: a top-level float that is whole (``1.0``,
``-0.0``) comes back as an int, integers beyond 64 bits come back as floats, dicts with keys that
its serde reserves (``__classname__``, ``__type``/``__var``, ``__id__``, ...) fail the push or come
back as something else, and a task that returns None stores nothing, so a missing value cannot be
told from None. ``encode`` wraps exactly those values in a one-key dict tagged ``hymir:...``, and
leaves every other value as it is, so XComs still read naturally in Airflow's UI; ``decode``
reverses it. The job's record (see ``hymir_airflow.state``) uses the same encoding.
"""

from __future__ import annotations

from typing import Any

_NONE = "hymir:none"
_INT = "hymir:int"
_FLOAT = "hymir:float"
_DICT = "hymir:dict"
_TAGS = frozenset({_NONE, _INT, _FLOAT, _DICT})

#: Integers Airflow carries unchanged: those that fit in 64 bits, signed.
_INT_RANGE = range(-(2**63), 2**63)


def encode(value: Any, *, top_level: bool = True) -> Any:
    """The JSON-safe ``value`` in a form that Airflow stores and returns unchanged.

    ``top_level=False`` is for a value nested in a larger document (a field of the job record),
    where None and whole floats need no wrapping.
    """
    if top_level and value is None:
        return {_NONE: None}
    if top_level and isinstance(value, float) and value.is_integer():
        return {_FLOAT: repr(value)}
    return _encode_nested(value)


def _encode_nested(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if value in _INT_RANGE else {_INT: str(value)}
    if isinstance(value, list):
        return [_encode_nested(item) for item in value]
    if isinstance(value, dict):
        if any(key.startswith(("__", "hymir:")) for key in value):
            return {_DICT: [[key, _encode_nested(item)] for key, item in value.items()]}
        return {key: _encode_nested(item) for key, item in value.items()}
    return value


def decode(stored: Any) -> Any:
    """The value that ``encode`` was given, from what Airflow stored; other values come back as they are."""
    if isinstance(stored, list):
        return [decode(item) for item in stored]
    if not isinstance(stored, dict):
        return stored
    if len(stored) == 1:
        ((tag, payload),) = stored.items()
        if tag == _NONE and payload is None:
            return None
        if tag == _INT and isinstance(payload, str):
            return int(payload)
        if tag == _FLOAT and isinstance(payload, str):
            return float(payload)
        if tag == _DICT and isinstance(payload, list):
            return {key: decode(item) for key, item in payload}
    return {key: decode(item) for key, item in stored.items()}
