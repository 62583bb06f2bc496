"""The Hymir DAG files that Airflow failed to import, as the overview of the Hymir view lists them.

A file counts as a Hymir DAG file when its text imports ``hymir_airflow`` (read where this
api-server keeps the file's bundle, if it can), when Airflow last loaded a Hymir DAG (tag
``hymir``) from it, or when its error is one of Hymir's own (``hymir.errors``: an invalid
workflow, a job that cannot be imported, ...). Who sees what is the strictest of Airflow's own
import-error pages on 3.0-3.3: only users with Airflow's import-errors view see any; a file's
error only those who may read one of its DAGs (every DAG, for a file that never loaded one); its
traceback only those who may read all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hymir_airflow import compat
from hymir_airflow.factory import HYMIR_TAG
from hymir_airflow.ui.preview import Preview, preview_text

#: How much of a DAG file is read to see whether it imports hymir_airflow.
FILE_CHARS = 64 * 1024


@dataclass(frozen=True)
class BrokenDagFile:
    """A Hymir DAG file that failed to import; ``error`` (masked) is None when the user may not read its traceback."""

    file: str
    bundle: str | None
    error: Preview | None
    timestamp: datetime | None


def broken_hymir_files(session: Session, user: Any, readable: set[str]) -> list[BrokenDagFile]:
    """The Hymir DAG files that failed to import and that ``user`` (who may read the DAGs ``readable``) may see."""
    if not compat.may_read_import_errors(user):
        return []
    errors = compat.import_errors(session)
    dags = compat.dags_of_files(session, {file for file, *_ in errors}, HYMIR_TAG)
    reads_every_dag: bool | None = None
    shown = []
    for file, bundle, stacktrace, timestamp in errors:
        file_dags = dags.get((bundle, file), {})
        if file_dags:
            if not readable & file_dags.keys():
                continue
            full = file_dags.keys() <= readable
        else:
            if reads_every_dag is None:
                reads_every_dag = compat.may_read_every_dag(user)
            if not reads_every_dag:
                continue
            full = True
        if _is_hymir_file(file, bundle, stacktrace, file_dags):
            shown.append(BrokenDagFile(file, bundle, preview_text(stacktrace) if full else None, timestamp))
    return shown


def _is_hymir_file(file: str, bundle: str | None, stacktrace: str, file_dags: dict[str, bool]) -> bool:
    if any(file_dags.values()) or "hymir.errors." in stacktrace:
        return True
    return "hymir_airflow" in (compat.dag_file_start(bundle, file, FILE_CHARS) or "")
