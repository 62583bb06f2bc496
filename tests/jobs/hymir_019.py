"""Job functions for the port of hymir 0.1.9's own test suite (tests/test_hymir_019_compat.py).

They play the parts of the original suite's jobs (the scenarios, written anew here). The
fixtures in tests/hymir_019_serialized.json, written by the real 0.1.9, name some of them, so a
renamed function means regenerating those fixtures.
"""

from __future__ import annotations

import time

from hymir import CheckLater, Failure, JobState, Retry, Success, Workflow, job

#: The clock ``check_until`` reads; the tests point it at the LocalExecutor's virtual clock.
now = time.time


@job(output="words")
def shout(word: str):
    """Upper-case one word."""
    return Success(word.upper())


@job(inputs=["words"], output="count")
def count_shouted(words: list[str]):
    """Count the words that are upper case."""
    return Success(len([word for word in words if word.isupper()]))


@job(output="reports")
def begin_report(report_key: str, options: dict):
    """Start a report and describe it."""
    return Success({"plan_id": "123", "report_key": report_key})


@job(inputs=["reports"])
def summarize_reports(reports: list[dict]):
    """How many reports were started."""
    return Success(len(reports))


@job()
def roll_up():
    """A step that returns nothing (a Success)."""


@job(inputs=["workflow_id"])
def store_results(workflow_id: str):
    """The ON_FINISHED callback: it only needs the run's id."""
    return Success(workflow_id)


@job()
def onboard():
    """The first step of the reporting workflow."""


@job()
def crash():
    """Raise instead of returning a result."""
    raise RuntimeError("crash() raised on purpose")


@job()
def succeed():
    """Succeed with a message."""
    return Success("succeeded")


@job()
def retry_always():
    """Ask for a retry every time, at most three times."""
    return Retry(wait_min=1, wait_max=2, max_retries=3)


@job()
def unreachable():
    """Stands after a job that fails; it must never run."""
    raise AssertionError("unreachable() ran after a job that failed")


@job()
def fail():
    """Fail with a value."""
    return Failure("failed on purpose")


@job()
def check_until(started_at: float):
    """Ask to be checked again until ten seconds of ``now()`` have passed since ``started_at``."""
    if now() - started_at < 10.0:
        return CheckLater()
    return Success("ten seconds passed")


@job(inputs=["job_state"])
def check_with_context(job_state: JobState):
    """Count the checks in the CheckLater context, and succeed on the fourth."""
    polls = job_state.context.get("polls", 0)
    if polls < 3:
        return CheckLater(context={"polls": polls + 1})
    return Success(polls)


@job()
def return_text():
    """Return something that is not a job result."""
    return "a string is not a job result"


@job(inputs=["job_id", "workflow_id", "workflow"], output="the_ids")
def report_ids(job_id: str, workflow_id: str, workflow: Workflow):
    """Return the job's and the run's ids, which the engine provides as reserved inputs."""
    if not isinstance(workflow, Workflow):
        return Failure(f"the reserved input 'workflow' is a {type(workflow).__name__}")
    return Success({"job_id": job_id, "workflow_id": workflow_id})


@job()
def placeholder():
    """Does nothing; for the shape of a graph."""


@job()
def takes_sample(sample_input: str):
    """Takes one input."""
    return Success(sample_input)


@job()
def gives_sample():
    """Produces whatever output it is given."""
    return Success("sample")
