"""What people see a job called: in messages its identity and function, in displays its call.

Jobs of one function differ only in their arguments, so the Airflow UI (task display names),
``hymir graph`` and the Hymir view all show ``uppercase("hello")`` rather than ``uppercase_2``.
"""

from __future__ import annotations

import json

from hymir.job import Job

#: How many characters of one argument, and of all of them, a label shows.
ARGUMENT_SHOWN = 24
ARGUMENTS_SHOWN = 60


def describe(job: Job) -> str:
    """How messages name a job: its identity and its function (``job 3 (tasks.load)``)."""
    return f"job {job.identity} ({job.name})"


def function_name(job: Job) -> str:
    """The name of a job's function, as written (without its module)."""
    return job.name.rsplit(".", 1)[-1]


def call_label(job: Job) -> str:
    """``function(arguments)``: positional, then keyword arguments as JSON, each and all shortened."""
    shown = [_short(value) for value in job.args] + [f"{key}={_short(value)}" for key, value in job.kwargs.items()]
    if not shown:
        return function_name(job)
    text = ", ".join(shown)
    if len(text) > ARGUMENTS_SHOWN:
        text = text[: ARGUMENTS_SHOWN - 1] + "…"
    return f"{function_name(job)}({text})"


def item_label(index: int, item: object) -> str:
    """How displays name one item of a mapped job: its index and its value, shortened (``2: "b.csv"``)."""
    return f"{index}: {_short(item)}"


#: One encoder for every argument shown: ``json.dumps`` with options makes a new one at each call.
_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _short(value: object) -> str:
    text = _ENCODER.encode(value)
    return text if len(text) <= ARGUMENT_SHOWN else text[: ARGUMENT_SHOWN - 1] + "…"
