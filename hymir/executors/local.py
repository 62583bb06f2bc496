"""LocalExecutor: runs workflows in-process on a thread pool; the reference semantics of Hymir."""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from hymir.binding import InputBinding
from hymir.clock import Clock
from hymir.decision import Outcome, Verdict, decide, decide_raised, stopped_outcome
from hymir.errors import WorkflowDoesNotExist, WorkflowNotFinished
from hymir.executor import Executor, JobState, JobStatus, WorkflowState, WorkflowStatus
from hymir.jsonsafe import json_copy
from hymir.labels import describe
from hymir.running import JobCall, call_job, summarize
from hymir.workflow import Workflow

log = logging.getLogger("hymir")


class _Run:
    """One workflow run: its states, its outputs, and the thread that drives it."""

    def __init__(self, workflow_id: str, workflow: Workflow, params: dict[str, Any]):
        self.workflow_id = workflow_id
        self.workflow = workflow
        self.params = params
        self.state = WorkflowState()
        self.jobs = {job_id: JobState() for job_id in [*workflow.jobs, *workflow.callback_ids()]}
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
                state = run.jobs[job_id]
                if job.output is not None and state.status is JobStatus.SUCCESS:
                    result.setdefault(job.output, []).append(json_copy(state.result))
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
            predecessors = {job_id: set(preds) for job_id, preds in run.workflow.dependencies}
            _Phase(self, run, predecessors, fail_fast=run.workflow.fail_fast).run()
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


class _Phase:
    """Runs a set of jobs whose predecessors are given, until none can run any more.

    A job whose predecessor failed never starts; independent jobs go on. With ``fail_fast``,
    the first failure stops the phase: nothing new starts, and jobs still running end failed.
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
        #: Jobs whose call ended: what the call gave, or the traceback of what it raised.
        self.done: list[tuple[str, JobCall | str]] = []
        self.done_lock = threading.Lock()

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
                return
            timeout = self.delayed[0][0] - now if self.delayed else None
            if not self.ready:
                clock.wait(self.wakeup, timeout, idle=not self.running)
            self.wakeup.clear()
            with self.done_lock:
                finished, self.done = self.done, []
            for job_id, ended in finished:
                self.running.discard(job_id)
                self._guarded(job_id, self._settle, job_id, ended)

    def _guarded(self, job_id: str, step: Any, *args: Any) -> None:
        """Run one coordinator step for a job; should it raise, fail that job with the traceback."""
        try:
            step(*args)
        except BaseException:
            reason = f"the LocalExecutor failed while handling {describe(self.run_.workflow[job_id])}:\n"
            self.running.discard(job_id)
            self._apply(job_id, Outcome(Verdict.FAILED, reason=reason + traceback.format_exc()))

    def _start(self, job_id: str) -> None:
        run = self.run_
        with run.lock:
            run.jobs[job_id].status = JobStatus.STARTING
            provided = {
                **json_copy(run.params),
                "workflow_id": run.workflow_id,
                "job_id": job_id,
                "workflow": run.workflow,
                "job_state": _copy(run.jobs[job_id]),
                "workflow_state": replace(run.state),
            }
        self.executor._pool.submit(self._call, job_id, provided)
        self.running.add(job_id)

    def _values(self, binding: InputBinding) -> list[Any]:
        """Copies of the values of a binding's producers that succeeded, in workflow order."""
        run = self.run_
        with run.lock:
            return [
                json_copy(run.jobs[producer].result)
                for producer in binding.producers or ()
                if run.jobs[producer].status is JobStatus.SUCCESS
            ]

    def _call(self, job_id: str, provided: dict[str, Any]) -> None:
        """In a pool thread: call the job and hand what it returned (or its traceback) to the coordinator."""
        ended: JobCall | str
        try:
            ended = call_job(self.run_.workflow, job_id, self._values, provided)
        except BaseException:
            ended = traceback.format_exc()
            log.warning("%s raised:\n%s", describe(self.run_.workflow[job_id]), ended)
        with self.done_lock:
            self.done.append((job_id, ended))
        self.wakeup.set()

    def _settle(self, job_id: str, ended: JobCall | str) -> None:
        """Decide what a job's try (its call, or the traceback it raised) means, log it in one line, and act on it."""
        run = self.run_
        workflow = run.workflow
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
        if outcome.failed or self.stopped:
            return
        if outcome.delay is not None:
            heapq.heappush(self.delayed, (self.executor._clock.now() + outcome.delay, next(self.sequence), job_id))
            return
        for successor in self.successors[job_id]:
            self.waiting_on[successor].discard(job_id)
            if not self.waiting_on[successor]:
                self.ready.append(successor)
