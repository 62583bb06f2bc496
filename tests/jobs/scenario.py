"""Job functions for the semantics tests that run on both engines.

Jobs that count their calls append a line to a file named by their argument, so the count is
right whichever process or thread ran them.
"""

from __future__ import annotations

import os
from typing import Any

from hymir import CheckLater, Failure, Retry, Success, job


def count_call(path: str) -> int:
    """Record one call in ``path``; return how many calls it has recorded."""
    with open(path, "a") as handle:
        handle.write("call\n")
    with open(path) as handle:
        return len(handle.readlines())


@job(output="value")
def produce(value):
    """Return the value it was given."""
    return Success(value)


@job()
def returns_none():
    """A job that returns nothing, which counts as Success(None)."""


@job(output="word")
def shout(word: str):
    """Uppercase a word."""
    return Success(word.upper())


@job(inputs=["word"], output="count")
def count_words(word: list[str]):
    """Receive every uppercased word, in graph order."""
    return Success({"count": len(word), "words": word})


@job(inputs=[("value", "number")], output="double")
def double(number: int):
    """Receive the single value of output 'value' under the parameter name 'number'."""
    return Success(number * 2)


@job()
def fail_with(reason):
    """Fail with a value that describes why."""
    return Failure(reason)


@job()
def tally(path: str):
    """Count a call and succeed."""
    return Success(count_call(path))


@job()
def always_retry(path: str, max_retries: int):
    """Ask for a retry every time."""
    count_call(path)
    return Retry(wait_min=0, wait_max=0.3, max_retries=max_retries)


@job(inputs=["job_state"], output="value")
def succeed_on_third_try(job_state):
    """Ask for retries until the third try, then succeed with the retries seen."""
    if job_state.retries < 2:
        return Retry(wait_min=0, wait_max=0.3, max_retries=5)
    return Success(job_state.retries)


@job(inputs=["job_state"], output="value")
def count_checks(job_state, target: int):
    """Keep a counter in the CheckLater context until it reaches ``target``."""
    counter = job_state.context.get("counter", 0) + 1
    if counter < target:
        return CheckLater(wait_for=1, context={"counter": counter})
    return Success({"counter": counter, "retries": job_state.retries})


@job()
def wait_for_file(path: str):
    """Succeed once a file exists; until then check again a second later."""
    if not os.path.exists(path):
        return CheckLater(wait_for=1)
    with open(path) as handle:
        return Success(handle.read())


@job()
def create_file(path: str, text: str):
    """Create the file another job waits for."""
    with open(path, "w") as handle:
        handle.write(text)


@job()
def explode(message: str):
    """Raise an exception the job does not handle."""
    raise ValueError(message)


@job()
def return_garbage():
    """Return something that is not a JobResult."""
    return 42


@job(output="value")
def return_unstorable():
    """Return a value JSON cannot carry."""
    return Success({1, 2, 3})


@job(inputs=["job_id", "workflow_id", "workflow", "job_state", "workflow_state"])
def introspect(job_id, workflow_id, workflow, job_state, workflow_state):
    """Report the reserved inputs it received."""
    return Success(
        {
            "job_id": job_id,
            "workflow_id": workflow_id,
            "jobs_in_workflow": len(workflow.jobs),
            "retries": job_state.retries,
            "workflow_status": workflow_state.status.value,
        }
    )


@job(inputs=["workflow_state", "value"], output="report")
def report(workflow_state, value: list[Any]):
    """An ON_FINISHED callback: report the workflow's outcome and the values produced."""
    return Success({"status": workflow_state.status.value, "values": value})


@job(inputs=["greeting", "name"], output="value")
def greet(*, greeting: str, name: str):
    """Greet with the run's params."""
    return Success(f"{greeting}, {name}")
