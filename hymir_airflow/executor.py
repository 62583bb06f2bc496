"""The Hymir Executor API over Airflow: the read-back both Airflow executors share, and the in-process one."""

from __future__ import annotations

import hashlib
from typing import Any

from hymir.decision import map_outcome, stopped_outcome
from hymir.errors import WorkflowDoesNotExist, WorkflowNotFinished
from hymir.executor import Executor, JobState, JobStatus, WorkflowState
from hymir.layout import WorkflowLayout
from hymir.mapping import item_id, split_item_id
from hymir.workflow import Workflow
from hymir_airflow.backends import AirflowBackend, TaskInstanceSummary
from hymir_airflow.compat import RECORDS_TASK_ID
from hymir_airflow.state import JobRecord, UnitRecord, instance_key, job_status, workflow_status
from hymir_airflow.values import decode


def default_dag_id(workflow: Workflow) -> str:
    """A stable DAG id for a workflow run in-process: the same workflow gets the same DAG."""
    return "hymir_" + hashlib.sha1(workflow.serialize().encode()).hexdigest()[:12]


class BaseAirflowExecutor(Executor):
    """What both Airflow executors share: the runs they started, read back from Airflow through a backend.

    Subclasses start runs (``run``) and hand them to ``_start``; reading states, retries, context,
    exceptions and outputs back, waiting and clearing are the same wherever the DAG ran.
    """

    def __init__(self, backend: AirflowBackend):
        self._backend = backend
        self._runs: dict[str, tuple[Workflow, str]] = {}

    def _start(self, workflow: Workflow, dag_id: str, params: dict[str, Any] | None) -> str:
        """Start a run of ``workflow`` as the DAG ``dag_id`` with ``params`` as its conf, and remember it."""
        run_id = self._backend.start(workflow, dag_id, dict(params or {}))
        self._runs[run_id] = (workflow, dag_id)
        return run_id

    def wait(
        self, workflow_id: str, *, block: bool = True, sleep: float = 0.5, timeout: float | None = None
    ) -> WorkflowState:
        """Wait until the run finishes and return its state; with ``block=False`` return the state at once.

        Raises ``TimeoutError`` after ``timeout`` seconds; Airflow is asked every ``sleep`` seconds.
        """
        _, dag_id = self._get(workflow_id)
        if not block:
            return self.workflow_state(workflow_id)
        state = WorkflowState(workflow_status(self._backend.wait_for_run(dag_id, workflow_id, timeout, sleep)))
        if not state.is_finished:
            raise TimeoutError(f"workflow {workflow_id} did not finish within {timeout} s")
        return state

    def _get(self, workflow_id: str) -> tuple[Workflow, str]:
        try:
            return self._runs[workflow_id]
        except KeyError:
            raise WorkflowDoesNotExist(f"no workflow run with id {workflow_id!r}") from None

    def dag_id(self, workflow_id: str) -> str:
        """The Airflow DAG that ran this workflow run."""
        return self._get(workflow_id)[1]

    def workflow(self, workflow_id: str) -> Workflow:
        return self._get(workflow_id)[0]

    def workflow_state(self, workflow_id: str) -> WorkflowState:
        _, dag_id = self._get(workflow_id)
        return WorkflowState(workflow_status(self._backend.dag_run_state(dag_id, workflow_id)))

    def job_states(self, workflow_id: str, job_ids: list[str] | None = None) -> dict[str, JobState]:
        """Every job's state (and each item's, ``"3[0]"``, of a mapped job that Airflow expanded)."""
        workflow, dag_id = self._get(workflow_id)
        layout = WorkflowLayout.of(workflow)
        task_ids = layout.step_ids
        rows = self._backend.task_rows(dag_id, workflow_id)
        items = {
            job_id: sorted(
                row.map_index for row in rows.values() if row.task_id == task_ids[job_id] and row.map_index >= 0
            )
            for job_id in workflow.maps
        }
        known = {job_id: task_ids[job_id] for job_id in task_ids}
        known.update((unit_id, task_ids[unit.members[0]]) for unit_id, unit in workflow.units.items())
        for job_id, indexes in items.items():
            known.update((item_id(job_id, index), instance_key(task_ids[job_id], index)) for index in indexes)
        wanted = list(known) if job_ids is None else job_ids
        missing = [job_id for job_id in wanted if job_id not in known]
        if missing:
            raise KeyError(f"workflow {workflow_id} has no jobs {missing}")
        # A mapped job's state comes from all its items, asked for or not.
        needed = list(dict.fromkeys([*wanted, *(item_id(j, i) for j in wanted if j in items for i in items[j])]))
        needed += [workflow.map_producer(j) for j in wanted if j in items and not items[j]]
        names = [known[job_id] for job_id in needed]
        records = self._backend.records(
            dag_id, workflow_id, list(dict.fromkeys(names)), layout.free_id(RECORDS_TASK_ID)
        )
        succeeded = [name for name in names if name in rows and job_status(rows[name].state) is JobStatus.SUCCESS]
        values = self._backend.return_values(dag_id, workflow_id, succeeded) if succeeded else {}
        states = {
            job_id: _job_state(rows.get(name), JobRecord.from_stored(records.get(name)), decode(values.get(name)))
            if job_id not in workflow.units and workflow.unit_of(job_id) is None
            else _unit_part_state(workflow, job_id, rows.get(name), UnitRecord.from_stored(records.get(name)))
            for job_id, name in zip(needed, names, strict=True)
        }
        for job_id in [j for j in needed if j in items]:
            states[job_id] = self._mapped_state(workflow, dag_id, workflow_id, job_id, items[job_id], states)
        failed = [state for state in states.values() if state.status is JobStatus.FAILURE]
        stopped = workflow.fail_fast and any(state.exception is not None for state in failed)
        for job_id, state in states.items():
            if state.status is JobStatus.FAILURE and state.exception is None:
                state.exception = stopped_outcome().reason if stopped else _unrecorded(rows[known[job_id]])
        return {job_id: states[job_id] for job_id in wanted}

    def _mapped_state(
        self,
        workflow: Workflow,
        dag_id: str,
        run_id: str,
        job_id: str,
        indexes: list[int],
        states: dict[str, JobState],
    ) -> JobState:
        """A mapped job's state: its items' outcome once none of them runs any more (the run's end counts)."""
        if not indexes:
            made = states[workflow.map_producer(job_id)]
            if made.status is JobStatus.SUCCESS and made.result == []:
                return map_outcome(workflow, job_id, []).state_after(JobState())
            return states[job_id]
        items = [states[item_id(job_id, index)] for index in indexes]
        over = (
            all(state.is_finished for state in items)
            or WorkflowState(workflow_status(self._backend.dag_run_state(dag_id, run_id))).is_finished
        )
        if not over:
            return JobState(status=JobStatus.STARTING)
        return map_outcome(workflow, job_id, items).state_after(JobState())

    def outputs(self, workflow_id: str) -> dict[str, list[Any]]:
        workflow = self.workflow(workflow_id)
        outputs = {job_id: job.output for job_id, job in workflow.jobs.items() if job.output is not None}
        states = self.job_states(workflow_id)
        result: dict[str, list[Any]] = {}
        for job_id, output in outputs.items():
            if job_id in workflow.maps:
                items = sorted((split_item_id(i) or ("", 0))[1] for i in states if workflow.mapped_job_of(i) == job_id)
                done = [states[item_id(job_id, index)] for index in items]
                values = [state.result for state in done if state.status is JobStatus.SUCCESS]
                if values or states[job_id].status is JobStatus.SUCCESS:
                    result.setdefault(output, []).extend(values)
            elif states[job_id].status is JobStatus.SUCCESS:
                result.setdefault(output, []).append(states[job_id].result)
        return result

    def clear(self, workflow_id: str) -> None:
        """Forget a finished run, deleting its DAG run (task instances, XComs, state) from Airflow."""
        _, dag_id = self._get(workflow_id)
        if not self.workflow_state(workflow_id).is_finished:
            raise WorkflowNotFinished(f"workflow {workflow_id} is still running; wait for it before clearing it")
        self._backend.delete_run(dag_id, workflow_id)
        del self._runs[workflow_id]


#: The arguments of ``AirflowDeploymentExecutor``, which the in-process executor refuses.
_DEPLOYMENT_ARGUMENTS = ("api_url", "username", "password", "token", "unpause")


class AirflowExecutor(BaseAirflowExecutor):
    """Runs Hymir workflows on Airflow in this process, with ``dag.test()``, and reads every job back.

    ``run()`` builds the workflow's DAG with ``workflow_to_dag(workflow, **dag_options)``,
    registers it in the configured metadata database (migrated on first use) and runs it to
    completion, so it returns once the run has finished. To drive a running deployment instead,
    use ``AirflowDeploymentExecutor``.
    """

    def __init__(self, **dag_options: Any):
        given = [name for name in _DEPLOYMENT_ARGUMENTS if name in dag_options]
        if given:
            raise TypeError(
                f"AirflowExecutor runs workflows in this process and takes no {', '.join(given)}: "
                "drive a deployment with hymir_airflow.AirflowDeploymentExecutor(api_url, ...)"
            )
        from hymir_airflow.backends.inprocess import InProcessBackend

        super().__init__(InProcessBackend(dag_options))

    def run(self, workflow: Workflow, *, params: dict[str, Any] | None = None, dag_id: str | None = None) -> str:
        """Run ``workflow`` to completion as the DAG ``dag_id`` (by default one named after the workflow).

        ``params`` override the workflow's params for this run; they travel as the DAG run's conf.
        """
        workflow.resolve_params(params)
        return self._start(workflow, dag_id or default_dag_id(workflow), params)


def _unrecorded(row: TaskInstanceSummary) -> str:
    """Why a job failed whose task ended before the job could record a reason."""
    return (
        f"task {row.task_id} ended {row.state} in Airflow before the job recorded why "
        "(a sensor timeout, an execution timeout or a lost worker); read the task's log"
    )


def _unit_part_state(workflow: Workflow, job_id: str, row: TaskInstanceSummary | None, record: UnitRecord) -> JobState:
    """The state of a unit (``unit_1``) or of one of its members, from the unit's task and record.

    A member's state is the one of the unit's latest try; the unit's counts its own retries and
    pauses, as the LocalExecutor reports them.
    """
    if row is None:
        return JobState()
    if job_id in workflow.units:
        status = job_status(row.state)
        exception = None if status is JobStatus.SUCCESS else record.exception
        return JobState(status=status, retries=record.retries, checks=record.checks, exception=exception)
    status, member = record.member(job_id)
    return _recorded_state(status, member, member.result)


def _job_state(row: TaskInstanceSummary | None, record: JobRecord, value: Any) -> JobState:
    """A JobState from what Airflow knows (state) and what the job recorded (retries, checks, ...)."""
    if row is None:
        return JobState()
    return _recorded_state(job_status(row.state), record, value)


def _recorded_state(status: JobStatus, record: JobRecord, value: Any) -> JobState:
    """A JobState of ``status`` from a job's record, ``value`` being its Success value."""
    return JobState(
        status=status,
        retries=record.retries,
        checks=record.checks,
        context=dict(record.context),
        exception=None if status is JobStatus.SUCCESS else record.exception,
        result=value if status is JobStatus.SUCCESS else record.result,
    )
