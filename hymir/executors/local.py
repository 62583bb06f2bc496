"""LocalExecutor: runs workflows in-process on a thread pool; the reference semantics of Hymir."""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import traceback
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from hymir.binding import InputBinding
from hymir.clock import Clock
from hymir.decision import (
    Outcome,
    Verdict,
    decide,
    decide_raised,
    item_stopped_outcome,
    map_outcome,
    stopped_outcome,
)
from hymir.errors import WorkflowDoesNotExist, WorkflowNotFinished
from hymir.executor import Executor, JobState, JobStatus, WorkflowState, WorkflowStatus
from hymir.jsonsafe import json_copy
from hymir.labels import describe
from hymir.mapping import item_id
from hymir.running import JobCall, call_job, summarize
from hymir.units import run_unit_pass, unit_predecessors
from hymir.workflow import Workflow

log = logging.getLogger("hymir")


class _Run:
    """One workflow run: its states, its outputs, and the thread that drives it.

    ``jobs`` holds every job's, callback's and unit's state, and each item's (``"3[0]"``) from the
    moment its mapped job starts; ``items`` the item identities of each mapped job that started.
    """

    def __init__(self, workflow_id: str, workflow: Workflow, params: dict[str, Any]):
        self.workflow_id = workflow_id
        self.workflow = workflow
        self.params = params
        self.state = WorkflowState()
        self.jobs = {job_id: JobState() for job_id in [*workflow.jobs, *workflow.callback_ids(), *workflow.units]}
        self.items: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        self.finished = threading.Event()


class LocalExecutor(Executor):
    """Runs each workflow in this process: parallel members run concurrently on a bounded thread pool.

    ``run()`` returns at once; a coordinator thread per run starts jobs as their predecessors
    succeed and waits out Retry delays and CheckLater intervals through ``clock``, so tests can
    pass a ``VirtualClock`` and never sleep. ``rng`` draws the Retry delays. Every job gets its
    own copy of its arguments, inputs and params, and what the executor reports are copies too.
    Use it as a context manager (or call ``close()``) to shut its thread pool down.
    """

    def __init__(self, *, max_workers: int = 8, clock: Clock | None = None, rng: random.Random | None = None):
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="hymir-job")
        self._clock = clock or Clock()
        self._rng = rng or random.Random()
        self._runs: dict[str, _Run] = {}

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Wait for the jobs that are running, then shut the thread pool down; no new run may start."""
        self._pool.shutdown(wait=True)

    def run(self, workflow: Workflow, *, params: dict[str, Any] | None = None) -> str:
        run = _Run(uuid.uuid4().hex, workflow, workflow.resolve_params(params))
        workflow_id = run.workflow_id
        self._runs[workflow_id] = run
        threading.Thread(target=self._drive, args=(run,), name=f"hymir-run-{workflow_id[:8]}", daemon=True).start()
        return workflow_id

    def _get(self, workflow_id: str) -> _Run:
        try:
            return self._runs[workflow_id]
        except KeyError:
            raise WorkflowDoesNotExist(f"no workflow run with id {workflow_id!r}") from None

    def workflow(self, workflow_id: str) -> Workflow:
        return self._get(workflow_id).workflow

    def workflow_state(self, workflow_id: str) -> WorkflowState:
        run = self._get(workflow_id)
        with run.lock:
            return replace(run.state)

    def job_states(self, workflow_id: str, job_ids: list[str] | None = None) -> dict[str, JobState]:
        run = self._get(workflow_id)
        with run.lock:
            wanted = run.jobs if job_ids is None else job_ids
            missing = [job_id for job_id in wanted if job_id not in run.jobs]
            if missing:
                raise KeyError(f"workflow {workflow_id} has no jobs {missing}")
            return {job_id: _copy(run.jobs[job_id]) for job_id in wanted}

    def outputs(self, workflow_id: str) -> dict[str, list[Any]]:
        run = self._get(workflow_id)
        result: dict[str, list[Any]] = {}
        with run.lock:
            for job_id, job in run.workflow.jobs.items():
                if job.output is not None:
                    values = _succeeded_values(run, job_id)
                    if values or run.jobs[job_id].status is JobStatus.SUCCESS:
                        result.setdefault(job.output, []).extend(values)
        return result

    def wait(
        self, workflow_id: str, *, block: bool = True, sleep: float = 0.5, timeout: float | None = None
    ) -> WorkflowState:
        """Wait until the run, callbacks included, has finished; ``sleep`` is unused here (no polling)."""
        run = self._get(workflow_id)
        if block and not run.finished.wait(timeout):
            raise TimeoutError(f"workflow {workflow_id} did not finish within {timeout} s")
        return self.workflow_state(workflow_id)

    def clear(self, workflow_id: str) -> None:
        run = self._get(workflow_id)
        if not run.finished.is_set():
            raise WorkflowNotFinished(f"workflow {workflow_id} is still running; wait for it before clearing it")
        del self._runs[workflow_id]

    def _drive(self, run: _Run) -> None:
        """Run the workflow's jobs, then its callbacks, and mark the run finished whatever happens."""
        try:
            with run.lock:
                run.state.status = WorkflowStatus.RUNNING
            _Phase(self, run, unit_predecessors(run.workflow), fail_fast=run.workflow.fail_fast).run()
            with run.lock:
                succeeded = all(run.jobs[job_id].status is JobStatus.SUCCESS for job_id in run.workflow.jobs)
                run.state.status = WorkflowStatus.SUCCESS if succeeded else WorkflowStatus.FAILURE
            callbacks: dict[str, set[str]] = {job_id: set() for job_id in run.workflow.callback_ids()}
            _Phase(self, run, callbacks, fail_fast=False).run()
        finally:
            with run.lock:
                if not run.state.is_finished:
                    run.state.status = WorkflowStatus.FAILURE
            run.finished.set()


def _copy(state: JobState) -> JobState:
    return replace(state, context=json_copy(state.context), result=json_copy(state.result))


def _succeeded_values(run: _Run, job_id: str) -> list[Any]:
    """Copies of the values a producer made, if it succeeded: for a mapped job, those of its items that did, in order.

    The caller holds the run's lock.
    """
    items = run.items.get(job_id) if job_id in run.workflow.maps else None
    producers = [job_id] if items is None else items
    return [json_copy(run.jobs[p].result) for p in producers if run.jobs[p].status is JobStatus.SUCCESS]


#: What a pass of a unit's members gave: their states and what the pass means for the unit.
_UnitPass = tuple[dict[str, JobState], Outcome]


class _Phase:
    """Runs a set of steps (jobs, or whole units) whose predecessors are given, until none can run any more.

    A job whose predecessor failed never starts; independent jobs go on. With ``fail_fast``,
    the first failure stops the phase: nothing new starts, and jobs still running end failed.
    A mapped job starts by expanding into its items, which then run like jobs (at most the Map's
    ``max_active`` at once); it finishes once none of its items runs any more.
    A unit runs its members in one pool thread per pass (see ``hymir.units``); a pass that
    pauses it or fails its try has it wait like a job's Retry or CheckLater.
    Whatever goes wrong in the coordinator itself fails the job it was handling, with the
    traceback recorded, and the phase goes on.
    """

    def __init__(self, executor: LocalExecutor, run: _Run, predecessors: dict[str, set[str]], fail_fast: bool):
        self.executor = executor
        self.run_ = run
        self.waiting_on = predecessors
        self.successors: dict[str, list[str]] = {job_id: [] for job_id in predecessors}
        for job_id, preds in predecessors.items():
            for upstream in preds:
                self.successors[upstream].append(job_id)
        self.fail_fast = fail_fast
        self.stopped = False
        self.ready = [job_id for job_id, preds in predecessors.items() if not preds]
        self.delayed: list[tuple[float, int, str]] = []
        self.sequence = itertools.count()
        self.running: set[str] = set()
        self.wakeup = threading.Event()
        #: Steps whose call ended: what the call gave, the traceback of what it raised, or a unit's pass.
        self.done: list[tuple[str, JobCall | str | _UnitPass]] = []
        self.done_lock = threading.Lock()
        #: The item each item of a mapped job gets, by item identity.
        self.item_values: dict[str, Any] = {}
        #: Items of each mapped job in a try now, and those waiting for a slot under its ``max_active``.
        self.active: dict[str, int] = {}
        self.held: dict[str, deque[str]] = {}
        #: Units whose last try failed: their next pass starts every member over.
        self.restarting: set[str] = set()

    def run(self) -> None:
        clock = self.executor._clock
        while True:
            now = clock.now()
            while self.delayed and self.delayed[0][0] <= now:
                self.ready.append(heapq.heappop(self.delayed)[2])
            ready, self.ready = self.ready, []
            for job_id in ready:
                self._guarded(job_id, self._start, job_id)
            if not self.running and not self.delayed and not self.ready:
                break
            timeout = self.delayed[0][0] - now if self.delayed else None
            if not self.ready:
                clock.wait(self.wakeup, timeout, idle=not self.running)
            self.wakeup.clear()
            with self.done_lock:
                finished, self.done = self.done, []
            for job_id, ended in finished:
                self.running.discard(job_id)
                self._release_slot(job_id)
                self._guarded(job_id, self._settle, job_id, ended)
        self._finish_maps()

    def _guarded(self, job_id: str, step: Any, *args: Any) -> None:
        """Run one coordinator step for a job; should it raise, fail that job with the traceback."""
        try:
            step(*args)
        except BaseException:
            who = job_id if job_id in self.run_.workflow.units else describe(self.run_.workflow[job_id])
            reason = f"the LocalExecutor failed while handling {who}:\n"
            self.running.discard(job_id)
            self._apply(job_id, Outcome(Verdict.FAILED, reason=reason + traceback.format_exc()))

    def _start(self, job_id: str) -> None:
        run = self.run_
        workflow = run.workflow
        if job_id in workflow.maps:
            self._expand(job_id)
            return
        if job_id in workflow.units:
            self._start_unit(job_id)
            return
        mapped = workflow.mapped_job_of(job_id)
        if mapped is not None:
            settings = workflow.maps[mapped]
            failed = next((i for i in run.items[mapped] if run.jobs[i].status is JobStatus.FAILURE), None)
            if settings.fail_fast and failed is not None:
                # Every item held for a slot would start after the failure too: each is stopped in turn.
                self.ready.extend(self.held.pop(mapped, ()))
                self._apply(job_id, item_stopped_outcome(failed))
                return
            if settings.max_active is not None and self.active.get(mapped, 0) >= settings.max_active:
                self.held.setdefault(mapped, deque()).append(job_id)
                return
        with run.lock:
            run.jobs[job_id].status = JobStatus.STARTING
            provided = self._provided(job_id, run.jobs[job_id])
        self.executor._pool.submit(self._call, job_id, provided, self.item_values.get(job_id))
        self.running.add(job_id)
        if mapped is not None:
            # Counted once submitted: an item the pool refused holds no slot.
            self.active[mapped] = self.active.get(mapped, 0) + 1

    def _provided(self, job_id: str, state: JobState) -> dict[str, Any]:
        """The reserved inputs and params a job gets, as copies; the caller holds the run's lock."""
        run = self.run_
        return {
            **json_copy(run.params),
            "workflow_id": run.workflow_id,
            "job_id": job_id,
            "workflow": run.workflow,
            "job_state": _copy(state),
            "workflow_state": replace(run.state),
        }

    def _start_unit(self, unit_id: str) -> None:
        """Start a pass of a unit's members in a pool thread: from the first, after a failed try."""
        run = self.run_
        with run.lock:
            if unit_id in self.restarting:
                run.jobs.update((member, JobState()) for member in run.workflow.units[unit_id].members)
            self.restarting.discard(unit_id)
            run.jobs[unit_id].status = JobStatus.STARTING
            members = {member: _copy(run.jobs[member]) for member in run.workflow.units[unit_id].members}
            retries = run.jobs[unit_id].retries
        self.executor._pool.submit(self._call_unit, unit_id, members, retries)
        self.running.add(unit_id)

    def _call_unit(self, unit_id: str, members: dict[str, JobState], retries: int) -> None:
        """In a pool thread: run a pass of the unit's members and hand its result to the coordinator."""
        run = self.run_

        def provided(job_id: str, state: JobState) -> dict[str, Any]:
            with run.lock:
                run.jobs[job_id] = replace(state, status=JobStatus.STARTING)
                return self._provided(job_id, state)

        ended: _UnitPass | str
        try:
            ended = run_unit_pass(
                run.workflow,
                unit_id,
                members,
                retries,
                values_of=self._values,
                provided=provided,
                log=lambda line: log.info("%s", line),
                rng=self.executor._rng,
                stopped=lambda: self.stopped,
            )
        except BaseException:
            ended = traceback.format_exc()
        with self.done_lock:
            self.done.append((unit_id, ended))
        self.wakeup.set()

    def _expand(self, job_id: str) -> None:
        """Start a mapped job: one item per item of the list it goes over, or its outcome at once for none."""
        run = self.run_
        producer = run.workflow.map_producer(job_id)
        with run.lock:
            values = json_copy(run.jobs[producer].result)
            items = [item_id(job_id, index) for index in range(len(values))]
            run.items[job_id] = items
            run.jobs[job_id].status = JobStatus.STARTING
            run.jobs.update((item, JobState()) for item in items)
        self.item_values.update(zip(items, values, strict=True))
        if not items:
            self._apply(job_id, map_outcome(run.workflow, job_id, []))
        self.ready.extend(items)

    def _release_slot(self, job_id: str) -> None:
        """An item's try ended: its mapped job may start one more of its held items."""
        mapped = self.run_.workflow.mapped_job_of(job_id)
        if mapped is None:
            return
        self.active[mapped] -= 1
        held = self.held.get(mapped)
        if held:
            self.ready.append(held.popleft())

    def _finish_maps(self) -> None:
        """Give every mapped job whose items are over its outcome: the items of a stopped run never run again."""
        run = self.run_
        for mapped, items in run.items.items():
            if not run.jobs[mapped].is_finished:
                with run.lock:
                    states = [run.jobs[item] for item in items]
                self._apply(mapped, map_outcome(run.workflow, mapped, states))

    def _values(self, binding: InputBinding) -> list[Any]:
        """Copies of the values of the producers that succeeded, in workflow order (a mapped one's in item order)."""
        run = self.run_
        with run.lock:
            return [value for producer in binding.producers or () for value in _succeeded_values(run, producer)]

    def _call(self, job_id: str, provided: dict[str, Any], item: Any) -> None:
        """In a pool thread: call the job and hand what it returned (or its traceback) to the coordinator."""
        ended: JobCall | str
        try:
            ended = call_job(self.run_.workflow, job_id, self._values, provided, item=item)
        except BaseException:
            ended = traceback.format_exc()
            log.warning("%s raised:\n%s", describe(self.run_.workflow[job_id]), ended)
        with self.done_lock:
            self.done.append((job_id, ended))
        self.wakeup.set()

    def _settle(self, job_id: str, ended: JobCall | str | _UnitPass) -> None:
        """Decide what a job's try (its call, or the traceback it raised) means, log it in one line, and act on it.

        A unit's pass comes decided: its members' states are recorded, and its outcome acted on.
        """
        run = self.run_
        workflow = run.workflow
        if isinstance(ended, tuple):
            members, outcome = ended
            with run.lock:
                run.jobs.update(members)
            if outcome.reason is not None:
                log.info("%s", outcome.reason)
            if outcome.verdict is Verdict.RETRY:
                self.restarting.add(job_id)
            self._apply(job_id, stopped_outcome() if self.stopped else outcome)
            return
        if self.stopped:
            outcome = stopped_outcome()
        elif isinstance(ended, str):
            outcome = decide_raised(ended)
        else:
            with run.lock:
                state = _copy(run.jobs[job_id])
            outcome = decide(workflow, job_id, ended.returned, state, rng=self.executor._rng)
            log.info("%s", summarize(workflow, job_id, ended, outcome.delay))
        self._apply(job_id, outcome)

    def _apply(self, job_id: str, outcome: Outcome) -> None:
        """Record the outcome in the job's state and schedule what follows from it."""
        run = self.run_
        with run.lock:
            run.jobs[job_id] = outcome.state_after(run.jobs[job_id])
        if outcome.failed and self.fail_fast:
            self.stopped = True
            self.delayed.clear()
            self.ready.clear()
            self.held.clear()
        if outcome.delay is not None and not outcome.failed and not self.stopped:
            heapq.heappush(self.delayed, (self.executor._clock.now() + outcome.delay, next(self.sequence), job_id))
            return
        mapped = run.workflow.mapped_job_of(job_id)
        if mapped is not None:
            self._item_over(mapped)
            return
        if outcome.failed or self.stopped:
            return
        for successor in self.successors[job_id]:
            self.waiting_on[successor].discard(job_id)
            if not self.waiting_on[successor]:
                self.ready.append(successor)

    def _item_over(self, mapped: str) -> None:
        """An item finished: once every item of ``mapped`` has, the mapped job gets its outcome."""
        run = self.run_
        with run.lock:
            states = [run.jobs[item] for item in run.items[mapped]]
        if not run.jobs[mapped].is_finished and all(state.is_finished for state in states):
            self._apply(mapped, map_outcome(run.workflow, mapped, states))
