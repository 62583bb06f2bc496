"""Job functions for the Map tests (test_map): producers of lists, jobs run per item, and their consumers.

Every function a workflow names must be importable by its dotted name, so they all live at the
top level here. Jobs that talk to a test find shared state in module-level dicts keyed by a
token the test passes as an argument, so tests never see each other's state.

An item of ``behave`` is a dict that says what that item does (``"fail"``, ``"retries"``,
``"checks"``, ``"wait"``, ``"value"``), so one Map can hold items that succeed at once, retry,
check again later and fail.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from hymir import CheckLater, Failure, Retry, Success, job

#: Call records by token: one dict per call of ``behave`` (and friends).
CALLS: dict[str, list[Any]] = defaultdict(list)
#: The item identities in the order their job succeeded, by token.
FINISHED: dict[str, list[str]] = defaultdict(list)
#: Virtual clocks by token, for jobs that look at the executor's time.
CLOCKS: dict[str, Any] = {}
#: How many ``crowd`` calls run at this moment, and the most that ever ran at once, by token.
ACTIVE: dict[str, int] = defaultdict(int)
PEAK: dict[str, int] = defaultdict(int)
_CROWD = threading.Condition()

#: No job waits longer than this (real seconds) for its peers, so a broken executor cannot hang the tests.
GATHER_TIMEOUT = 1.0


def forget(token: str) -> None:
    """Drop every record kept under ``token``."""
    for records in (CALLS, FINISHED, CLOCKS, ACTIVE, PEAK):
        records.pop(token, None)


# --- producers ------------------------------------------------------------------------------------


@job(output="items")
def make_items(values):
    """Produce ``values`` (a list, or anything else for the tests that want a bad one) into 'items'."""
    return Success(values)


@job(output="items")
def make_nothing():
    """Return None (Success(None)) for output 'items'."""


@job(output="items")
def make_items_too(values):
    """A second producer of 'items'."""
    return Success(values)


@job(output="n")
def numbers(values: list[int]):
    """Produce a list of numbers into 'n'."""
    return Success(values)


@job(output="flag")
def flag(value):
    """Produce one value into 'flag' (a plain, unmapped output)."""
    return Success(value)


# --- jobs run once per item -----------------------------------------------------------------------


@job(output="squares")
def square(n: int):
    """Square one number (the item of 'n' goes to the parameter of that name)."""
    return Success(n * n)


@job(inputs=["job_id", "job_state"], output="results")
def behave(token: str, item, *, job_id, job_state):
    """Do what ``item`` says, recording each call; succeed with ``item["value"]`` (or the item itself).

    ``{"fail": reason}`` fails; ``{"retries": k}`` asks for k retries first; ``{"checks": k}`` asks
    to be checked again k times first, counting in its context; ``{"wait": s}`` waits s seconds
    between tries or checks.
    """
    spec = item if isinstance(item, dict) else {"value": item}
    clock = CLOCKS.get(token)
    CALLS[token].append(
        {
            "job_id": job_id,
            "retries": job_state.retries,
            "checks": job_state.checks,
            "context": dict(job_state.context),
            "now": None if clock is None else clock.now(),
        }
    )
    wait = spec.get("wait", 1)
    if "fail" in spec:
        return Failure(spec["fail"])
    if job_state.retries < spec.get("retries", 0):
        return Retry(wait_min=wait, wait_max=wait)
    if job_state.checks < spec.get("checks", 0):
        seen = job_state.context.get("seen", [])
        return CheckLater(wait_for=wait, context={"n": job_state.checks + 1, "seen": [*seen, job_id]})
    FINISHED[token].append(job_id)
    return Success(spec.get("value", item))


@job(inputs=["job_id"], output="results")
def whoami(item, *, job_id):
    """Say which item it is and what it got."""
    return Success({"job_id": job_id, "item": item})


@job(output="results")
def crowd(token: str, item, hold: float, gather: int = 0):
    """Count itself among the running ``crowd`` calls for ``hold`` real seconds, keeping the peak.

    With ``gather``, it first waits (at most GATHER_TIMEOUT) until that many calls run at once.
    """
    with _CROWD:
        ACTIVE[token] += 1
        PEAK[token] = max(PEAK[token], ACTIVE[token])
        _CROWD.notify_all()
        if gather:
            _CROWD.wait_for(lambda: PEAK[token] >= gather, GATHER_TIMEOUT)
    time.sleep(hold)
    with _CROWD:
        ACTIVE[token] -= 1
    return Success(item)


@job(output="results")
def takes_item(item, other=None):
    """A mapped job whose item parameter is ``item``."""
    return Success([item, other])


@job(output="results")
def takes_anything(**kwargs):
    """Accepts any keyword, so a Map may fill any parameter name."""
    return Success(kwargs)


# --- consumers of a mapped job's output -----------------------------------------------------------


@job(inputs=["results"], output="collected")
def collect(results: list[Any]):
    """Receive the items' values of 'results', in item order."""
    return Success(results)


@job(inputs=["squares"], output="total")
def total(squares: list[int]):
    """Add up the items' values of 'squares'."""
    return Success(sum(squares))


@job(inputs=["squares"], output="total")
def first_square(squares: int):
    """Takes one value of 'squares' (not a list): refused, 'squares' has one value per item."""
    return Success(squares)


@job(inputs=["results", "workflow_state"])
def report_results(results: list[Any], workflow_state):
    """An ON_FINISHED callback: the values of the items that succeeded, and the workflow's status."""
    return Success({"status": workflow_state.status.value, "results": results})


# --- Airflow only ---------------------------------------------------------------------------------


@job(inputs=["workflow_id"])
def delete_item_value(task_id: str, map_index: int, *, workflow_id: str):
    """Delete the XCom of one item of mapped task ``task_id`` in this run, as a user clearing it would."""
    from sqlalchemy import delete

    from airflow.models.xcom import XComModel

    from hymir_airflow.compat import metadata_session

    with metadata_session() as session:
        session.execute(
            delete(XComModel).where(
                XComModel.run_id == workflow_id, XComModel.task_id == task_id, XComModel.map_index == map_index
            )
        )
