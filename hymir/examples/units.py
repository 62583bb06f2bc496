"""Retried as a whole: extract, transform and load a batch as one Unit; behind ``dags/hymir_unit.py``.

The three steps share a scratch area that only makes sense within one attempt, so a failed load
must start again from the extract: a Unit retries them together, as one Airflow task.
"""

import tempfile
from pathlib import Path
from typing import Any

from hymir import Chain, Failure, Success, Unit, Workflow, job


@job(inputs=["batch"], output="raw")
def extract(batch: str) -> Success:
    """Pretend to read a batch's rows into a scratch area."""
    return Success({"batch": batch, "rows": [1, 2, 3]})


@job(inputs=["raw"], output="clean")
def transform(raw: dict[str, Any]) -> Success:
    """Pretend to clean the rows."""
    return Success({**raw, "rows": [row * 10 for row in raw["rows"]]})


@job(inputs=["batch", "clean", "workflow_id"], output="loaded")
def load(batch: str, clean: dict[str, Any], fail_first: int, workflow_id: str) -> Success | Failure:
    """Pretend to load the rows; the first ``fail_first`` loads of a run fail, as a lost scratch area would.

    The loads are counted in a file per run, since on Airflow each try of the unit is a new process.
    """
    tally = Path(tempfile.gettempdir()) / f"hymir-example-loads-{workflow_id.replace('/', '_')}"
    with tally.open("a+") as loads:
        loads.write(".")
        count = loads.tell()
    if count <= fail_first:
        return Failure(f"scratch area of {batch} is gone (load {count})")
    return Success(len(clean["rows"]))


@job(inputs=["loaded"], output="report")
def report(loaded: int) -> Success:
    """Say how many rows the batch loaded."""
    return Success(f"{loaded} rows loaded")


def unit_workflow(fail_first: int = 1) -> Workflow:
    """Extract, transform and load as one Unit with two retries, then report."""
    return Workflow(
        Chain(Unit(Chain(extract(), transform(), load(fail_first=fail_first)), retries=2), report()),
        params={"batch": "2026-12-01"},
    )
