"""Job functions for the engine-neutral core tests (test_job, test_workflow, test_local_executor).

Every function a workflow names must be importable by its dotted name, so they all live at the
top level here. Jobs that need to talk to a test (count their calls, read the virtual clock,
wait for each other) find shared state in module-level dicts keyed by a token the test passes
as an argument, so tests never see each other's state.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict

from hymir import CheckLater, Failure, Retry, Success, job
from tests.jobs.scenario import (  # noqa: F401  shared with the engine tests
    double,
    explode,
    produce,
    report,
    return_garbage,
    return_unstorable,
    returns_none,
)

#: Call records by token: whatever each job call wants the test to see.
CALLS: dict[str, list] = defaultdict(list)
#: Virtual clocks by token, for jobs that look at the executor's time.
CLOCKS: dict[str, object] = {}
#: Events by name, for jobs that wait for each other or for the test.
EVENTS: dict[str, threading.Event] = defaultdict(threading.Event)

#: No job waits longer than this for an event, so a broken executor cannot hang the tests.
EVENT_TIMEOUT = 5


# --- plain functions (not decorated) --------------------------------------------------------


def plain(x, y=2):
    """A plain function, for Job.from_function and hand-made Jobs."""
    return Success(x + y)


def plain_many(items: list[str]):
    """A plain function whose parameter takes a list."""
    return Success(len(items))


def takes_kwargs(**kwargs):
    """Accepts any keyword, so any input name is a parameter."""
    return Success(sorted(kwargs))


# --- decorated jobs for building workflows --------------------------------------------------


@job(output="words")
def uppercase(word: str):
    """Uppercase a word into output 'words'."""
    return Success(word.upper())


@job(inputs=["words"], output="count")
def count(words: list[str]):
    """Receive every value of 'words'."""
    return Success(len(words))


@job(inputs=["words"], output="count")
def count_typing_list(words: list[str]):
    """Receive every value of 'words' through a typing.List annotation."""
    return Success(len(words))


@job(inputs=["words"], output="first")
def take_one(words: str):
    """Takes a single value of 'words' (not a list)."""
    return Success(words)


@job(inputs=["value"], output="echo")
def consume(value):
    """Takes the single value of output 'value'."""
    return Success(value)


@job(inputs=[("words", "items")], output="joined")
def join_items(items: list[str]):
    """Receive output 'words' under the parameter name 'items'."""
    return Success(" ".join(items))


@job(inputs=["missing_param"])
def wants_absent_parameter(value):
    """Names an input that is not one of its parameters."""
    return Success(value)


@job()
def needs_two(a, b):
    """Needs two arguments."""
    return Success(a + b)


@job()
def noop():
    """Does nothing: counts as Success(None)."""


@job(output="value", meta={"airflow": {"queue": "q1"}, "team": "data"})
def with_meta_job(value):
    """A job whose decorator carries meta."""
    return Success(value)


@job(inputs=["job_id", "workflow_id", "workflow", "job_state", "workflow_state"], output="info")
def introspect(job_id, workflow_id, workflow, job_state, workflow_state):
    """Report the reserved inputs it received (as JSON-safe facts)."""
    return Success(
        {
            "job_id": job_id,
            "workflow_id": workflow_id,
            "workflow_type": type(workflow).__name__,
            "workflow_jobs": sorted(workflow.jobs),
            "my_function": workflow[job_id].name,
            "job_state_type": type(job_state).__name__,
            "job_state_status": job_state.status.value,
            "job_state_retries": job_state.retries,
            "workflow_state_type": type(workflow_state).__name__,
            "workflow_state_status": workflow_state.status.value,
        }
    )


# --- jobs for the LocalExecutor ---------------------------------------------------------------


@job(output="value")
def record(token: str, value):
    """Record the call under ``token`` and succeed with ``value``."""
    CALLS[token].append(value)
    return Success(value)


@job()
def fail_with(token: str, reason):
    """Record the call and fail with a value that says why."""
    CALLS[token].append("fail_with")
    return Failure(reason)


@job(inputs=["job_state"])
def always_retry(token: str, max_retries: int, wait_min=None, wait_max=None, *, job_state):
    """Ask for a retry every time; record (virtual time, retries seen) per call."""
    CALLS[token].append((CLOCKS[token].now() if token in CLOCKS else None, job_state.retries))
    return Retry(wait_min=wait_min, wait_max=wait_max, max_retries=max_retries)


@job(inputs=["job_state"], output="value")
def count_in_context(token: str, target: int, *, job_state):
    """Keep a counter in the CheckLater context until it reaches ``target``, then succeed."""
    counter = job_state.context.get("counter", 0)
    CALLS[token].append(dict(job_state.context))
    if counter < target:
        return CheckLater(wait_for=5, context={"counter": counter + 1})
    return Success(counter)


@job(output="contents")
def wait_for_file(path: str, started: str):
    """Succeed with the file's contents once it exists; say each check has happened.

    It looks before it says so: the job creating the file waits for that, so the first check never finds it.
    """
    exists = os.path.exists(path)
    EVENTS[started].set()
    if not exists:
        return CheckLater(wait_for=3)
    with open(path) as handle:
        return Success(handle.read())


@job()
def create_file_after(path: str, text: str, after: str):
    """Create a file once the job waiting for it has checked at least once."""
    if not EVENTS[after].wait(EVENT_TIMEOUT):
        return Failure(f"event {after} never came")
    with open(path, "w") as handle:
        handle.write(text)
    return Success(path)


@job(output="when")
def wait_until(token: str, deadline: float):
    """Check every 7 virtual seconds until the executor's clock passes ``deadline``."""
    now = CLOCKS[token].now()
    CALLS[token].append(now)
    if now < deadline:
        return CheckLater(wait_for=7)
    return Success(now)


@job(output="words")
def produce_after(token: str, word: str, wait_for_event: str | None = None, set_event: str | None = None):
    """Produce ``word`` into 'words', optionally after another job has finished producing."""
    if wait_for_event is not None and not EVENTS[wait_for_event].wait(EVENT_TIMEOUT):
        return Failure(f"event {wait_for_event} never came")
    CALLS[token].append(word)
    if set_event is not None:
        EVENTS[set_event].set()
    return Success(word)


@job(output="value")
def block_until(event: str):
    """Run until the test sets ``event`` (at most EVENT_TIMEOUT seconds)."""
    if not EVENTS[event].wait(EVENT_TIMEOUT):
        return Failure(f"event {event} never came")
    return Success(event)
