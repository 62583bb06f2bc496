"""Jobs for ``version_timings.py``: each call appends its wall-clock time to a file."""

from __future__ import annotations

import time

from hymir import CheckLater, JobState, Retry, Success, job


def _called(path: str) -> None:
    with open(path, "a") as calls:
        calls.write(f"{time.time()}\n")


@job(inputs=["job_state"])
def retry_twice(job_state: JobState, path: str, delay: float):
    """Ask for two retries of exactly ``delay`` seconds, then succeed."""
    _called(path)
    if job_state.retries < 2:
        return Retry(wait_min=delay, wait_max=delay, max_retries=3)
    return Success(job_state.retries)


@job(inputs=["job_state"])
def check_twice(job_state: JobState, path: str, wait: float):
    """Ask to be checked again twice, ``wait`` seconds apart, counting in the context; then succeed."""
    _called(path)
    seen = job_state.context.get("seen", 0)
    if seen < 2:
        return CheckLater(wait_for=wait, context={"seen": seen + 1})
    return Success(seen)
