"""Job functions for the Unit tests: steps that count their calls, fail, retry or wait on cue.

Every function a workflow names must be importable by its dotted name, so they all live at the
top level here. Calls are recorded under a token the test passes as an argument, so tests never
see each other's records, and a step can fail its first calls only (a unit retry runs it again).
"""

from __future__ import annotations

import time
from collections import defaultdict

from hymir import CheckLater, Failure, Retry, Success, job

#: The names of the steps called, in call order, by token.
CALLS: dict[str, list[str]] = defaultdict(list)
#: When each call of ``CALLS`` was made (Unix time), by token.
TIMES: dict[str, list[float]] = defaultdict(list)


def _called(token: str, name: str) -> int:
    """Record a call of step ``name`` and return how many it has had, this one included."""
    CALLS[token].append(name)
    TIMES[token].append(time.time())
    return CALLS[token].count(name)


@job(output="steps")
def step(token: str, name: str, fails: int = 0):
    """Produce ``"<name>#<call>"`` into 'steps'; the first ``fails`` calls return Failure instead."""
    call = _called(token, name)
    if call <= fails:
        return Failure({"step": name, "call": call})
    return Success(f"{name}#{call}")


@job(output="steps")
def raising_step(token: str, name: str):
    """Raise on every call."""
    _called(token, name)
    raise ValueError(f"{name} cannot go on")


@job(inputs=["steps"], output="joined")
def join_steps(token: str, name: str, steps: list[str], fails: int = 0):
    """Join every value of 'steps' (inside and outside the unit, in workflow order); fail the first ``fails`` calls."""
    call = _called(token, name)
    if call <= fails:
        return Failure(f"{name} failed on call {call}")
    return Success("+".join(steps))


@job(inputs=["job_state"], output="steps")
def waiting_step(token: str, name: str, checks: int, wait: float = 0, *, job_state):
    """Ask to be checked again ``checks`` times ``wait`` s apart, counting in its context, then produce what the
    context says."""
    _called(token, name)
    if job_state.checks < checks:
        return CheckLater(wait_for=wait, context={"seen": job_state.checks + 1})
    return Success(f"{name} after {job_state.context}")


@job(inputs=["job_state"], output="steps")
def retrying_step(token: str, name: str, retries: int, *, job_state):
    """Ask for ``retries`` retries (no delay), then produce how many it had."""
    _called(token, name)
    if job_state.retries < retries:
        return Retry(wait_min=0, wait_max=0, max_retries=retries)
    return Success(f"{name} after {job_state.retries} retries")


@job(inputs=["joined"], output="result")
def finish(joined: str):
    """A consumer outside the unit: what the unit's last member joined."""
    return Success(joined)


@job(inputs=["steps"], output="result")
def gather(steps: list[str]):
    """A consumer outside the unit of every value of 'steps'."""
    return Success(steps)


@job()
def side(token: str, name: str):
    """A job beside the unit that produces nothing."""
    _called(token, name)


@job(inputs=["steps"], output="mutated")
def mutate(steps: list[str]):
    """Change the first value of the list it got in place, then return it."""
    steps[0].append("extra")
    return Success(steps[0])


@job(output="steps")
def listing(token: str, name: str):
    """Produce a list (a value a consumer could change in place) into 'steps'."""
    _called(token, name)
    return Success([name])


@job(inputs=["settings"], output="steps")
def change_param(settings: dict):
    """Change the run's param it got, in place."""
    settings["changed"] = True
    return Success("changed")


@job(inputs=["settings"], output="seen")
def read_param(settings: dict):
    """Return the run's param as it got it."""
    return Success(settings)
