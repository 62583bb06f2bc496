"""Job functions for the Map parity tests (tests/test_map_parity.py): one Map, the same items on both engines.

The producers and ``square`` are those of ``tests.jobs.mapping``; these are the jobs only parity needs.

An item of ``behave`` is a dict that says what that item does, so one Map can hold items that
succeed at once, retry, check again later, fail and raise. Waits are zero seconds unless an item
asks for more (the LocalExecutor runs on a VirtualClock, and Airflow's dag.test() should not
sleep longer than its own loop does), and nothing a job returns depends on which engine, process or thread runs it.
"""

from __future__ import annotations

import time
from typing import Any

from hymir import CheckLater, Failure, Retry, Success, job

# --- jobs run once per item -----------------------------------------------------------------------


@job(inputs=["job_id", "job_state"], output="results")
def behave(item, *, job_id, job_state):
    """Do what ``item`` says; succeed with ``item["value"]`` (or the item itself, when it is not a dict).

    ``{"retries": k}`` asks for k retries first (no wait); ``{"checks": k}`` then asks to be
    checked again k times, ``"wait"`` seconds apart (0 unless given), with a context that counts
    the checks and lists who made them. Then ``{"fail": value}`` returns Failure(value) and
    ``{"raise": text}`` raises ValueError naming the item.
    """
    spec = item if isinstance(item, dict) else {"value": item}
    if job_state.retries < spec.get("retries", 0):
        return Retry(wait_min=0, wait_max=0)
    if job_state.checks < spec.get("checks", 0):
        seen = job_state.context.get("seen", [])
        return CheckLater(wait_for=spec.get("wait", 0), context={"n": job_state.checks + 1, "seen": [*seen, job_id]})
    if "fail" in spec:
        return Failure(spec["fail"])
    if "raise" in spec:
        raise ValueError(f"item {job_id} broke: {spec['raise']}")
    return Success(spec.get("value", item))


@job(inputs=["job_id", "job_state"], output="results")
def whoami(item, *, job_id, job_state):
    """Say which item it is, what it got, and what its job_state said."""
    return Success({"job_id": job_id, "item": item, "retries": job_state.retries, "checks": job_state.checks})


@job(inputs=["job_state"], output="gaps")
def timed_check(wait: float, *, job_state):
    """Ask to be checked again ``wait`` seconds later, once; succeed with the real seconds between the two calls."""
    if job_state.checks == 0:
        return CheckLater(wait_for=wait, context={"first": time.time()})
    return Success(time.time() - job_state.context["first"])


# --- consumers of a mapped job's output -----------------------------------------------------------


@job(inputs=["results"], output="collected")
def collect(results: list[Any]):
    """Receive the items' values of 'results', in item order."""
    return Success(results)


@job(inputs=["squares"], output="total")
def total(squares: list[int]):
    """Add up the items' values of 'squares', and keep them."""
    return Success({"sum": sum(squares), "squares": squares})


@job(inputs=["results", "workflow_state"], output="report")
def report_results(results: list[Any], workflow_state):
    """An ON_FINISHED callback: the values of the items that succeeded, and the workflow's status."""
    return Success({"status": workflow_state.status.value, "results": results})
