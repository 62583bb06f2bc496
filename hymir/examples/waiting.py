"""A CheckLater example: wait for a file to appear, or for time to pass, without holding a worker.

The file and the number of seconds are workflow params, so each run (or the Airflow trigger
form) can choose them.
"""

import os
import time

from hymir import Chain, CheckLater, Group, JobState, Success, Workflow, job


@job(inputs=["seconds", "job_state"], output="waited")
def wait_for_seconds(interval: int = 15, *, seconds: float, job_state: JobState) -> CheckLater | Success:
    """Succeed once ``seconds`` have passed since the first check; the start time lives in the context."""
    started = job_state.context.get("started", time.time())
    waited = time.time() - started
    if waited < seconds:
        return CheckLater(wait_for=interval, context={"started": started})
    return Success(round(waited, 1))


@job(inputs=["path"], output="contents")
def wait_for_file(interval: int = 15, *, path: str) -> CheckLater | Success:
    """Succeed with the file's contents once it exists."""
    if not os.path.exists(path):
        return CheckLater(wait_for=interval)
    with open(path) as handle:
        return Success(handle.read())


@job(inputs=["waited"])
def announce(waited: list[float]) -> Success:
    """Say how long the waits took."""
    return Success(f"waited {waited} s")


def waiting_workflow(path: str = "/tmp/hymir-ready.txt", seconds: float = 20, interval: int = 15) -> Workflow:
    """Wait for some time to pass and for a file to appear, side by side, then announce it."""
    return Workflow(
        Chain(Group(wait_for_seconds(interval), wait_for_file(interval)), announce()),
        params={"path": path, "seconds": seconds},
    )
