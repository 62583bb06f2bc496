"""Job functions for the Airflow adapter tests (tests/test_airflow_adapter.py).

They live at the top level of an importable module, because an Airflow task imports a job's
function again by its dotted name.
"""

from __future__ import annotations

from hymir import CheckLater, JobState, Retry, Success, job
from tests.jobs.scenario import count_call


@job(inputs=["job_state"], output="value")
def retry_once(job_state: JobState):
    """Ask for one retry with a delay between half a second and one and a half, then succeed."""
    if job_state.retries == 0:
        return Retry(wait_min=0.5, wait_max=1.5, max_retries=2)
    return Success({"retries": job_state.retries})


@job()
def always_retry_quickly():
    """Ask for a retry every time, allowing five of them, without waiting."""
    return Retry(wait_min=0, wait_max=0, max_retries=5)


@job(output="value")
def raise_on_first_try(calls_path: str):
    """Raise an unhandled exception on the first call; succeed on a later one with the number of calls."""
    calls = count_call(calls_path)
    if calls == 1:
        raise RuntimeError("the first try always breaks")
    return Success({"calls": calls})


@job(output="value")
def undocumented(value):
    return Success(value)


@job(output="value")
def produce_2(value):
    """A function whose name looks like the second task id of ``produce``."""
    return Success(value)


@job()
def group_1():
    """A function whose name is the id the factory would give the first TaskGroup."""


@job(inputs=["job_state"], output="value")
def wait_once_keeping_a_note(job_state: JobState):
    """Ask to be checked again once, keeping a note in the context; then succeed with the context.

    The wait is long enough for a test to fail the waiting task well before its check is due.
    """
    if not job_state.context:
        return CheckLater(wait_for=10, context={"note": "kept across the race"})
    return Success({"context": job_state.context, "checks": job_state.checks, "retries": job_state.retries})


@job()
def hymir_records():
    """A function whose name is the id of the task that keeps the jobs' records before Airflow 3.3."""
