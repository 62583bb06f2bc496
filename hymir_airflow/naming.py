"""Readable Airflow ids for a workflow's jobs, the same wherever they are computed."""

from __future__ import annotations

from hymir.workflow import Workflow


def task_ids_for(workflow: Workflow) -> dict[str, str]:
    """Readable task ids by job identity: the function name, with ``_2``, ``_3``, ... where names clash."""
    taken: set[str] = set()
    task_ids: dict[str, str] = {}
    for job_id in [*workflow.jobs, *workflow.callback_ids()]:
        task_ids[job_id] = unique_name(workflow[job_id].name.rsplit(".", 1)[-1], taken)
    return task_ids


def unique_name(base: str, taken: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3``, ... whichever is not taken yet; the result is then taken."""
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}_{number}"
    taken.add(name)
    return name
