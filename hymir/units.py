"""Units: a Chain or Group run as one piece, in one try, and retried as a whole.

A unit runs its members one after another, in workflow order, with the usual meaning of each
result. A member that fails (Failure, an exception, a Retry past its cap) fails the unit's try;
a retry of the unit runs every member again from the start. A member that asks to be called
again later (Retry, CheckLater) pauses the unit: it keeps what its members did so far and
resumes at that member. Outside the unit, its members are jobs like any other: their outputs
feed consumers, and their states are reported under their own identities; the unit's own state
is reported under its id, ``"unit_1"``, ``"unit_2"``, ... On Airflow a unit is one task.
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from hymir.binding import InputBinding
from hymir.decision import Outcome, Verdict, decide, decide_raised, stopped_outcome, unit_outcome
from hymir.errors import MissingValue
from hymir.executor import JobState, JobStatus
from hymir.job import DEFAULT_CHECK_INTERVAL
from hymir.jsonsafe import json_copy
from hymir.labels import describe
from hymir.running import call_job, summarize
from hymir.workflow import Workflow


def unit_predecessors(workflow: Workflow) -> dict[str, set[str]]:
    """What each step of a run waits for, where a step is a job outside any unit or a whole unit.

    A unit waits for every job (or unit) that one of its members waits for outside it; a job
    waits for the unit of each member it waits for. Steps come in workflow order.
    """
    step_of = {member: unit_id for unit_id, unit in workflow.units.items() for member in unit.members}
    steps: dict[str, set[str]] = {}
    for job_id, predecessors in workflow.dependencies:
        step = step_of.get(job_id, job_id)
        waits = steps.setdefault(step, set())
        waits.update(step_of.get(upstream, upstream) for upstream in predecessors)
        waits.discard(step)
    return steps


def run_unit_pass(
    workflow: Workflow,
    unit_id: str,
    members: Mapping[str, JobState],
    retries: int,
    *,
    values_of: Callable[[InputBinding], list[Any]],
    provided: Callable[[str, JobState], Mapping[str, Any]],
    log: Callable[[str], None],
    rng: random.Random | None = None,
    check_interval: float = DEFAULT_CHECK_INTERVAL,
    stopped: Callable[[], bool] = lambda: False,
) -> tuple[dict[str, JobState], Outcome]:
    """Run a unit's members from the first that has not succeeded until one does not succeed or none is left.

    ``members`` are the members' states in this try (a member not named has not run), ``retries``
    how often the unit was retried so far. ``values_of(binding)`` gives the values of producers
    outside the unit; a member's value reaches later members straight from its state, each member
    getting its own copy. ``provided(job_id, state)`` gives the engine's reserved inputs and params;
    ``log`` gets one line per member result (a member that raised: its traceback). ``stopped()`` is
    asked before each member: once true (a fail_fast run stopped), that member fails as stopped and
    the rest do not run, as jobs that would start after the stop. Returns the members' states and
    what the pass means for the unit, as ``decision.unit_outcome`` decides it.
    """
    unit = workflow.units[unit_id]
    states = {member: replace(members.get(member, JobState())) for member in unit.members}

    def values(binding: InputBinding) -> list[Any]:
        found: list[Any] = []
        for producer in binding.producers or ():
            if producer in states:
                if states[producer].status is JobStatus.SUCCESS:
                    found.append(json_copy(states[producer].result))
            else:
                found.extend(values_of(replace(binding, producers=(producer,))))
        return found

    for member in unit.members:
        state = states[member]
        if state.status is JobStatus.SUCCESS:
            continue
        if stopped():
            states[member] = stopped_outcome().state_after(state)
            return states, stopped_outcome()
        try:
            call = call_job(workflow, member, values, provided(member, state))
        except MissingValue as error:
            outcome = Outcome(Verdict.FAILED, reason=str(error))
            log(str(error))
        except BaseException:
            outcome = decide_raised(traceback.format_exc())
            log(f"{describe(workflow[member])} raised:\n{outcome.reason}")
        else:
            outcome = decide(workflow, member, call.returned, state, rng=rng, check_interval=check_interval)
            log(summarize(workflow, member, call, outcome.delay))
        states[member] = outcome.state_after(state)
        if outcome.verdict is not Verdict.SUCCEEDED:
            return states, unit_outcome(workflow, unit_id, member, outcome, retries)
    return states, Outcome(Verdict.SUCCEEDED)
