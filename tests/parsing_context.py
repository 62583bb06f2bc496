"""Airflow's parsing context for a test: what a worker's parse of a DAG file sees when it runs one task."""

from __future__ import annotations

from airflow.sdk.definitions.context import _AIRFLOW_PARSING_CONTEXT_DAG_ID, _AIRFLOW_PARSING_CONTEXT_TASK_ID


def set_parsing_context(monkeypatch, dag_id: str | None, task_id: str | None) -> None:
    """Have the next parse run under a parsing context naming ``dag_id`` and ``task_id`` (None: not named)."""
    for name, value in ((_AIRFLOW_PARSING_CONTEXT_DAG_ID, dag_id), (_AIRFLOW_PARSING_CONTEXT_TASK_ID, task_id)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
