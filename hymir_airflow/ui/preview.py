"""What the Hymir view shows of a value: masked by Airflow's secrets masker, and bounded in size.

Every value the view shows (outputs, Failure values, CheckLater contexts, exception texts, job
arguments, run params, import errors) passes through here, so nothing reaches a page or the
full-value endpoint unmasked, and a 30 MB output costs a page no more than ``PREVIEW_CHARS``
characters. Masking changes only what is displayed: consumer jobs and ``AirflowExecutor`` read
the stored values themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hymir_airflow.compat import redact

#: How many characters of a value's JSON (or of an exception's text) a page shows.
PREVIEW_CHARS = 2000

#: How many characters of a job's arguments the run page shows (the task's page in Airflow shows them all).
ARGUMENT_CHARS = 160

#: How much JSON the full-value endpoint sends at a time.
CHUNK_CHARS = 64 * 1024


@dataclass(frozen=True)
class Preview:
    """The start (or, for tracebacks, the end) of a masked value's text, and the size of all of it."""

    text: str
    size: int
    truncated: bool

    @property
    def size_text(self) -> str:
        """The size of the whole text, in decimal units as people read them: 812 B, 30.0 MB."""
        size = float(self.size)
        for unit in ("B", "KB", "MB"):
            if size < 1000:
                return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
            size /= 1000
        return f"{size:.1f} GB"


def as_json(value: Any) -> str:
    """A value as JSON, the way it travels through XCom and the job's record."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def preview_json(value: Any) -> Preview:
    """The first ``PREVIEW_CHARS`` characters of the masked value's JSON.

    The value is masked as a whole before it is cut, so a secret can neither escape the masker
    by being cut in two nor hide under a sensitive key name that the cut would drop.
    """
    return _bounded(as_json(redact(value)), keep_end=False)


def preview_text(text: str) -> Preview:
    """The last ``PREVIEW_CHARS`` characters of a masked text: a traceback ends with what matters."""
    return _bounded(str(redact(text)), keep_end=True)


def preview_arguments(args: Any, kwargs: Any) -> Preview | None:
    """A job's arguments as a call reads (``"hello", limit=3``), masked, cut at ``ARGUMENT_CHARS`` characters.

    Values are JSON, and keyword arguments with a sensitive name are hidden as a whole (``password="***"``).
    Where Airflow kept arguments only as text (it truncates long ones), that text is shown. None without arguments.
    """
    args, kwargs = redact(args), redact(kwargs)
    shown = [as_json(value) for value in args] if isinstance(args, list) else [str(args)]
    if isinstance(kwargs, dict):
        shown += [f"{name}={as_json(value)}" for name, value in kwargs.items()]
    else:
        shown.append(str(kwargs))
    text = ", ".join(part for part in shown if part)
    return _bounded(text, keep_end=False, limit=ARGUMENT_CHARS) if text else None


def masked_json_chunks(value: Any) -> Iterator[str]:
    """The whole masked value as JSON, in pieces of about ``CHUNK_CHARS``, for a streaming response."""
    pending: list[str] = []
    length = 0
    encoder = json.JSONEncoder(ensure_ascii=False, sort_keys=True)
    for piece in encoder.iterencode(redact(value)):
        pending.append(piece)
        length += len(piece)
        if length >= CHUNK_CHARS:
            yield "".join(pending)
            pending, length = [], 0
    if pending:
        yield "".join(pending)


def _bounded(text: str, keep_end: bool, limit: int = PREVIEW_CHARS) -> Preview:
    size = len(text.encode("utf-8"))
    if len(text) <= limit:
        return Preview(text, size, truncated=False)
    return Preview(text[-limit:] if keep_end else text[:limit], size, truncated=True)
