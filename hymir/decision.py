"""What a job's try means: one decision that every engine takes and only translates.

A job's function either returns something or raises. ``decide`` turns what it returned, and
what is known of the job so far (its ``JobState``), into one ``Outcome``: succeeded, failed,
retry after a delay, check again after a delay, or gave up. The LocalExecutor and the Airflow
operator call it and map the outcome onto their engine; neither judges a result itself, so
caps, delays, limits and messages mean the same everywhere.
"""

from __future__ import annotations

import enum
import numbers
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from hymir.errors import InvalidJobReturn
from hymir.executor import JobState, JobStatus
from hymir.job import DEFAULT_CHECK_INTERVAL, MAX_WAIT, RETRY_LIMIT, CheckLater, Failure, Retry, Success
from hymir.jsonsafe import json_problem
from hymir.labels import describe
from hymir.mapping import item_id
from hymir.workflow import Workflow


class Verdict(str, enum.Enum):
    """What becomes of a job after one try."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRY = "retry"
    CHECK_AGAIN = "check_again"
    GAVE_UP = "gave_up"


@dataclass(frozen=True)
class Outcome:
    """The meaning of one try of a job, ready for an engine to act on.

    ``value`` is the Success value (SUCCEEDED) or the Failure value (FAILED); ``delay`` the
    seconds until the next try (RETRY) or check (CHECK_AGAIN); ``context`` what the job gets
    back at its next check; ``reason`` why it failed (FAILED, GAVE_UP), kept as
    ``JobState.exception``, or why it is retried (RETRY), for the engine's log.
    """

    verdict: Verdict
    value: Any = None
    delay: float | None = None
    context: dict[str, Any] | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.verdict in (Verdict.RETRY, Verdict.CHECK_AGAIN) and self.delay is None:
            raise ValueError(f"an outcome {self.verdict.value} needs a delay")

    @property
    def failed(self) -> bool:
        """True when the job has failed for good."""
        return self.verdict in (Verdict.FAILED, Verdict.GAVE_UP)

    def state_after(self, state: JobState) -> JobState:
        """The job's state once this outcome is applied to ``state``."""
        if self.verdict is Verdict.SUCCEEDED:
            return replace(state, status=JobStatus.SUCCESS, result=self.value, exception=None)
        if self.verdict is Verdict.RETRY:
            return replace(state, status=JobStatus.PENDING, retries=state.retries + 1)
        if self.verdict is Verdict.CHECK_AGAIN:
            return replace(state, status=JobStatus.PENDING, checks=state.checks + 1, context=dict(self.context or {}))
        return replace(state, status=JobStatus.FAILURE, result=self.value, exception=self.reason)


def retry_cap(workflow: Workflow, job_id: str, result: Retry) -> int:
    """How many retries a Retry allows: its own ``max_retries``, else the job's, else the workflow's."""
    if result.max_retries is not None:
        return result.max_retries
    meta = workflow[job_id].meta or {}
    return meta["max_retries"] if meta.get("max_retries") is not None else workflow.max_retries


def decide(
    workflow: Workflow,
    job_id: str,
    returned: Any,
    state: JobState,
    *,
    rng: random.Random | None = None,
    check_interval: float = DEFAULT_CHECK_INTERVAL,
) -> Outcome:
    """The outcome of a try in which the job returned ``returned``, given its ``state`` before the try.

    ``rng`` draws Retry delays; ``check_interval`` is the wait after a CheckLater without ``wait_for``.
    A result Hymir cannot act on fails the job, with the reason naming the job and the value.
    """
    try:
        result = _checked(workflow, job_id, returned)
    except InvalidJobReturn as error:
        return Outcome(Verdict.FAILED, reason=f"{type(error).__name__}: {error}")
    if isinstance(result, Success):
        return Outcome(Verdict.SUCCEEDED, value=result.result)
    if isinstance(result, Failure):
        return Outcome(Verdict.FAILED, value=result.result, reason=failure_message(workflow, job_id, result))
    if isinstance(result, Retry):
        cap = retry_cap(workflow, job_id, result)
        if state.retries >= cap:
            return Outcome(Verdict.GAVE_UP, reason=gave_up_message(workflow, job_id, state.retries, cap))
        delay = (rng or random).uniform(*result.delay_bounds())
        who = describe(workflow[job_id])
        reason = f"{who} returned {result!r}; retry {state.retries + 1} of {cap} in {delay:.1f} s"
        return Outcome(Verdict.RETRY, delay=delay, reason=reason)
    context = state.context if result.context is None else result.context
    delay = check_interval if result.wait_for is None else result.wait_for
    return Outcome(Verdict.CHECK_AGAIN, delay=delay, context=dict(context))


def decide_raised(traceback_text: str) -> Outcome:
    """The outcome of a try in which the job raised: it fails, with the traceback as the reason."""
    return Outcome(Verdict.FAILED, reason=traceback_text)


def stopped_outcome() -> Outcome:
    """The outcome of a job that was still running when a fail_fast workflow stopped."""
    return Outcome(Verdict.FAILED, reason="stopped: another job failed and the workflow is fail_fast")


def map_outcome(workflow: Workflow, job_id: str, items: Sequence[JobState]) -> Outcome:
    """What the items of mapped job ``job_id`` mean together, once none of them runs any more.

    It succeeds with the items' values in item order (``[]`` for no item) when every item
    succeeded; otherwise it fails, naming the items that did not succeed.
    """
    missed = [item_id(job_id, index) for index, state in enumerate(items) if state.status is not JobStatus.SUCCESS]
    if not missed:
        return Outcome(Verdict.SUCCEEDED, value=[state.result for state in items])
    who = describe(workflow[job_id])
    reason = f"{who}: {len(missed)} of its {len(items)} items did not succeed: {', '.join(missed)}"
    return Outcome(Verdict.FAILED, reason=reason)


def item_stopped_outcome(failed_item: str) -> Outcome:
    """The outcome of an item of a fail_fast Map that would start a try or a check after another item failed."""
    return Outcome(Verdict.FAILED, reason=f"stopped: item {failed_item} failed and the Map is fail_fast")


def unit_outcome(workflow: Workflow, unit_id: str, member: str, outcome: Outcome, retries: int) -> Outcome:
    """What a member's outcome other than success means for its unit, retried ``retries`` times so far.

    A member that asks to run again later (RETRY, CHECK_AGAIN) pauses the unit for that delay, to
    resume at that member. A member that failed fails the unit's try: while the unit has retries
    left it is retried after its ``retry_delay``, running every member again; then it fails.
    """
    unit = workflow.units[unit_id]
    who = describe(workflow[member])
    if not outcome.failed:
        what = "try" if outcome.verdict is Verdict.RETRY else "check"
        reason = f"{unit_id} waits {outcome.delay:.1f} s for the next {what} of {who}"
        return Outcome(Verdict.CHECK_AGAIN, delay=outcome.delay, reason=reason)
    lines = [line for line in (outcome.reason or "").strip().splitlines() if line.strip()]
    detail = lines[-1].strip() if lines else "it failed"
    why = f"{unit_id}: {detail}" if detail.startswith(who) else f"{unit_id}: {who} failed: {detail}"
    if retries < unit.retries:
        reason = (
            f"{why}; retry {retries + 1} of {unit.retries} of the unit in {unit.retry_delay:.1f} s, "
            "running all its members again"
        )
        return Outcome(Verdict.RETRY, delay=unit.retry_delay, reason=reason)
    return Outcome(Verdict.FAILED, reason=f"{why}; the unit has no retry left (retries={unit.retries})")


def failure_message(workflow: Workflow, job_id: str, result: Failure) -> str:
    """Why a job that returned Failure failed."""
    return f"{describe(workflow[job_id])} returned Failure({result.result!r})"


def gave_up_message(workflow: Workflow, job_id: str, retries: int, cap: int) -> str:
    """Why a job that asked for yet another retry failed."""
    return f"{describe(workflow[job_id])} asked for a retry but gave up after {retries} retries (max_retries={cap})"


def _items_problem(workflow: Workflow, output: str | None, value: Any) -> str | None:
    """Why ``value`` cannot be the list of items that Maps go over ``output``, or None when it can (or none does)."""
    maps = workflow.maps_over(output) if output is not None and workflow.maps else []
    if not maps:
        return None
    if not isinstance(value, list):
        mapper = describe(maps[0].job)
        return f"output {output!r} is mapped over by {mapper}, so it must be a list, not a {type(value).__name__}"
    for mapped in maps:
        if len(value) > mapped.max_length:
            return (
                f"output {output!r} has {len(value)} items, more than the max_length={mapped.max_length} of the "
                f"Map of {describe(mapped.job)}; raise its max_length (on Airflow, [core] max_map_length as well)"
            )
    return None


def _is_wait(value: Any) -> bool:
    """True for None (use the default) or a number of seconds from 0 to MAX_WAIT."""
    if value is None:
        return True
    # typeshed's numbers.Real declares only __lt__ and __le__, so `0 <= value` does not check.
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 <= value <= MAX_WAIT  # type: ignore[operator]


def _checked(workflow: Workflow, job_id: str, result: Any) -> Success | Failure | Retry | CheckLater:
    """``result`` as a JobResult Hymir can act on (None counts as Success(None)); else InvalidJobReturn."""
    job = workflow[job_id]
    who = describe(job)
    limit = f"numbers of seconds from 0 to {MAX_WAIT} (365 days)"
    if result is None:
        result = Success(None)
    if isinstance(result, Success):
        problem = json_problem(result.result, "the value")
        if problem:
            label = f"output {job.output!r}" if job.output else "its Success value"
            raise InvalidJobReturn(f"{who}: {label} cannot be stored: {problem}")
        problem = _items_problem(workflow, job.output, result.result)
        if problem:
            raise InvalidJobReturn(f"{who}: {problem}")
        return result
    if isinstance(result, Failure):
        return result
    if isinstance(result, Retry):
        if not (_is_wait(result.wait_min) and _is_wait(result.wait_max)):
            raise InvalidJobReturn(f"{who} returned {result!r}: wait_min and wait_max must be {limit}")
        low, high = result.delay_bounds()
        if low > high:
            raise InvalidJobReturn(f"{who} returned {result!r}: wait_min is greater than wait_max")
        cap = result.max_retries
        if cap is not None and not (isinstance(cap, int) and not isinstance(cap, bool) and 0 <= cap <= RETRY_LIMIT):
            raise InvalidJobReturn(
                f"{who} returned {result!r}: max_retries must be a whole number from 0 to {RETRY_LIMIT}"
            )
        return result
    if isinstance(result, CheckLater):
        if not _is_wait(result.wait_for):
            raise InvalidJobReturn(f"{who} returned {result!r}: wait_for must be {limit}")
        if result.context is not None:
            problem = json_problem(result.context, "context")
            if not isinstance(result.context, dict) or problem:
                reason = problem or f"context is a {type(result.context).__name__}, not a dict"
                raise InvalidJobReturn(f"{who} returned CheckLater whose {reason}")
        return result
    raise InvalidJobReturn(
        f"{who} returned {result!r} ({type(result).__name__}); a job must return Success, Failure, Retry, "
        "CheckLater or None"
    )
