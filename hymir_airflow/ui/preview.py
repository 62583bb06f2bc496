"""What the Hymir view shows of a value: masked by Airflow's secrets masker, and bounded in size.

Every value the view shows (outputs, Failure values, CheckLater contexts, exception texts)
passes through here, so nothing reaches a page or the full-value endpoint unmasked, and a
30 MB output costs a page no more than ``PREVIEW_CHARS`` characters. Masking changes only what
is displayed: consumer jobs and ``AirflowExecutor`` read the stored values themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hymir_airflow.compat import redact

#: How many characters of a value's JSON (or of an exception's text) a page shows.
PREVIEW_CHARS = 2000

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


def _bounded(text: str, keep_end: bool) -> Preview:
    size = len(text.encode("utf-8"))
    if len(text) <= PREVIEW_CHARS:
        return Preview(text, size, truncated=False)
    return Preview(text[-PREVIEW_CHARS:] if keep_end else text[:PREVIEW_CHARS], size, truncated=True)
