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
from datetime import datetime, timedelta, timezone
from typing import Any

from hymir.clock import Clock
from hymir.errors import WorkflowDoesNotExist, WorkflowNotFinished
from hymir.executor import Executor, JobState, JobStatus, WorkflowState, WorkflowStatus
from hymir.job import CheckLater, Failure, Retry, Success
from hymir.running import JobCall, call_job, failure_message, gave_up_message, summarize
from hymir.validation import InputBinding, describe
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
    pass a ``VirtualClock`` and never sleep. ``rng`` draws the Retry delays.
    """

    def __init__(self, *, max_workers: int = 8, clock: Clock | None = None, rng: random.Random | None = None):
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="hymir-job")
        self._clock = clock or Clock()
        self._rng = rng or random.Random()
        self._runs: dict[str, _Run] = {}

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
                    result.setdefault(job.output, []).append(state.result)
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
            _Phase(self, run, predecessors, stop_on_failure=True).run()
            with run.lock:
                succeeded = all(run.jobs[job_id].status is JobStatus.SUCCESS for job_id in run.workflow.jobs)
                run.state.status = WorkflowStatus.SUCCESS if succeeded else WorkflowStatus.FAILURE
            callbacks = {job_id: set() for job_id in run.workflow.callback_ids()}
            _Phase(self, run, callbacks, stop_on_failure=False).run()
        except BaseException:
            with run.lock:
                run.state.status = WorkflowStatus.FAILURE
            raise
        finally:
            run.finished.set()


def _copy(state: JobState) -> JobState:
    return replace(state, context=dict(state.context))


class _Phase:
    """Runs a set of jobs whose predecessors are given, until none can run any more."""

    def __init__(self, executor: LocalExecutor, run: _Run, predecessors: dict[str, set[str]], stop_on_failure: bool):
        self.executor = executor
        self.run_ = run
        self.waiting_on = predecessors
        self.successors: dict[str, list[str]] = {job_id: [] for job_id in predecessors}
        for job_id, preds in predecessors.items():
            for upstream in preds:
                self.successors[upstream].append(job_id)
        self.stop_on_failure = stop_on_failure
        self.ready = [job_id for job_id, preds in predecessors.items() if not preds]
        self.delayed: list[tuple[float, int, str]] = []
        self.sequence = itertools.count()
        self.running = 0
        self.failed = False
        self.wakeup = threading.Event()
        self.done: list[tuple[str, JobCall | None, str | None]] = []
        self.done_lock = threading.Lock()

    def run(self) -> None:
        clock = self.executor._clock
        while True:
            now = clock.now()
            while self.delayed and self.delayed[0][0] <= now:
                self.ready.append(heapq.heappop(self.delayed)[2])
            if not self.failed:
                for job_id in self.ready:
                    self._start(job_id)
                self.ready.clear()
            if self.running == 0 and (self.failed or not self.delayed):
                return
            timeout = self.delayed[0][0] - now if self.delayed and not self.failed else None
            clock.wait(self.wakeup, timeout, idle=self.running == 0)
            self.wakeup.clear()
            with self.done_lock:
                finished, self.done = self.done, []
            for job_id, call, error in finished:
                self.running -= 1
                self._settle(job_id, call, error)

    def _start(self, job_id: str) -> None:
        run = self.run_
        with run.lock:
            run.jobs[job_id].status = JobStatus.STARTING
            provided = {
                **run.params,
                "workflow_id": run.workflow_id,
                "job_id": job_id,
                "workflow": run.workflow,
                "job_state": _copy(run.jobs[job_id]),
                "workflow_state": replace(run.state),
            }
        self.running += 1
        self.executor._pool.submit(self._call, job_id, provided)

    def _values(self, binding: InputBinding) -> list[Any]:
        run = self.run_
        with run.lock:
            return [
                run.jobs[producer].result
                for producer in binding.producers
                if run.jobs[producer].status is JobStatus.SUCCESS
            ]

    def _call(self, job_id: str, provided: dict[str, Any]) -> None:
        """In a pool thread: call the job and hand its result (or traceback) to the coordinator."""
        try:
            outcome = (job_id, call_job(self.run_.workflow, job_id, self._values, provided), None)
        except BaseException:
            outcome = (job_id, None, traceback.format_exc())
            log.warning("%s raised:\n%s", describe(self.run_.workflow[job_id]), outcome[2])
        with self.done_lock:
            self.done.append(outcome)
        self.wakeup.set()

    def _settle(self, job_id: str, call: JobCall | None, error: str | None) -> None:
        """Apply a job's result to its state, log it in one line, and decide what happens next."""
        run = self.run_
        result = None if call is None else call.result
        delay = None
        with run.lock:
            state = run.jobs[job_id]
            if error is not None:
                state.status, state.exception = JobStatus.FAILURE, error
            elif isinstance(result, Success):
                state.status, state.result = JobStatus.SUCCESS, result.result
            elif isinstance(result, Failure):
                state.status, state.result = JobStatus.FAILURE, result.result
                state.exception = failure_message(run.workflow, job_id, result)
            elif isinstance(result, Retry):
                cap = result.retry_cap()
                if state.retries >= cap:
                    state.status = JobStatus.FAILURE
                    state.exception = gave_up_message(run.workflow, job_id, state.retries, cap)
                else:
                    state.status = JobStatus.PENDING
                    state.retries += 1
                    delay = self.executor._rng.uniform(*result.delay_bounds())
            elif isinstance(result, CheckLater):
                state.status = JobStatus.PENDING
                state.checks += 1
                if result.context is not None:
                    state.context = dict(result.context)
                delay = result.interval()
            status = state.status
        if call is not None:
            next_at = None if delay is None else datetime.now(timezone.utc) + timedelta(seconds=delay)
            log.info("%s", summarize(run.workflow, job_id, call, next_at))
        if delay is not None:
            self._delay(job_id, delay)
        if status is JobStatus.FAILURE and self.stop_on_failure:
            self.failed = True
        elif status is JobStatus.SUCCESS:
            for successor in self.successors[job_id]:
                self.waiting_on[successor].discard(job_id)
                if not self.waiting_on[successor]:
                    self.ready.append(successor)

    def _delay(self, job_id: str, seconds: float) -> None:
        heapq.heappush(self.delayed, (self.executor._clock.now() + seconds, next(self.sequence), job_id))
