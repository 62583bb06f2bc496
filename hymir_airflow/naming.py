"""Readable Airflow ids for a workflow's jobs, the same wherever they are computed."""

from __future__ import annotations

import functools
import re
import unicodedata

from hymir.workflow import Workflow

_SAFE = re.compile(r"[A-Za-z0-9_]+")


def task_ids_for(workflow: Workflow) -> dict[str, str]:
    """Readable task ids by job identity: the function name, with ``_2``, ``_3``, ... where names clash."""
    names = UniqueNames()
    return {
        job_id: names.claim(_base_id(workflow[job_id].name)) for job_id in [*workflow.jobs, *workflow.callback_ids()]
    }


def free_task_id(base: str, task_ids: dict[str, str]) -> str:
    """``base``, or ``base_2``, ``base_3``, ... if a job's task already has that id (for Hymir's own tasks)."""
    names = UniqueNames()
    for task_id in task_ids.values():
        names.claim(task_id)
    return names.claim(base)


@functools.lru_cache(maxsize=4096)
def _base_id(name: str) -> str:
    """The task id that the jobs of the function with this dotted name start from (before ``_2``, ...)."""
    return _ascii_id(name.rsplit(".", 1)[-1])


def _ascii_id(name: str) -> str:
    """``name`` as a task id every part of Airflow accepts: ASCII letters, digits and underscores.

    Accents are dropped (``größe`` gives ``groe``) and other characters become ``_``; a name with
    no letter or digit left is ``job``. The task's display name keeps the function's own name.
    """
    if name.isascii() and _SAFE.fullmatch(name):
        return name
    plain = re.sub(r"[^A-Za-z0-9_]", "_", unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode())
    return plain if plain.strip("_") else "job"


class UniqueNames:
    """Hands out names not handed out before: ``base``, else ``base_2``, ``base_3``, ... whichever is free.

    Names are only ever added, so every suffix tried before for a base stays taken: remembering the
    last suffix per base keeps n jobs of one function linear instead of quadratic (10,000 jobs of
    one function took 11 s to name).
    """

    def __init__(self) -> None:
        self._taken: set[str] = set()
        self._last_number: dict[str, int] = {}

    def claim(self, base: str) -> str:
        """The first free name of ``base``, ``base_2``, ``base_3``, ...; it is taken from now on."""
        number = self._last_number.get(base, 0) + 1
        name = base if number == 1 else f"{base}_{number}"
        while name in self._taken:
            number += 1
            name = f"{base}_{number}"
        self._last_number[base] = number
        self._taken.add(name)
        return name
