"""AirflowExecutor: the Hymir Executor API over Airflow, reading every job's state back from Airflow."""

from __future__ import annotations

import hashlib
from typing import Any

from hymir.decision import stopped_outcome
from hymir.errors import WorkflowDoesNotExist, WorkflowNotFinished
from hymir.executor import Executor, JobState, JobStatus, WorkflowState
from hymir.layout import WorkflowLayout
from hymir.workflow import Workflow
from hymir_airflow.backends import AirflowBackend, TaskRow
from hymir_airflow.compat import RECORDS_TASK_ID
from hymir_airflow.state import JobRecord, job_status, workflow_status
from hymir_airflow.values import decode


def default_dag_id(workflow: Workflow) -> str:
    """A stable DAG id for a workflow run in-process: the same workflow gets the same DAG."""
    return "hymir_" + hashlib.sha1(workflow.serialize().encode()).hexdigest()[:12]


class AirflowExecutor(Executor):
    """Runs Hymir workflows on Airflow and reports states, retries, context, exceptions and outputs.

    Without ``api_url`` it runs in this process: ``run()`` builds the workflow's DAG, registers it
    in the configured metadata database (migrated on first use) and runs it to completion with
    ``dag.test()``, so ``run()`` returns once the run has finished; other keyword arguments go to
    ``workflow_to_dag``.

    With ``api_url`` (and ``username``/``password`` or ``token``) it drives a running deployment
    through the REST API: ``run(workflow, dag_id=...)`` triggers the DAG deployed there for that
    workflow and returns at once; ``wait()`` waits for the run through the deployment's DAG-run wait
    endpoint (Airflow 3.1+) or by polling it (3.0). ``unpause=True`` unpauses a paused DAG
    instead of raising ``DagPaused``.
    """

    def __init__(
        self,
        *,
        api_url: str | None = None,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        unpause: bool = False,
        **dag_options: Any,
    ):
        if api_url is None:
            from hymir_airflow.backends.inprocess import InProcessBackend

            self._backend: AirflowBackend = InProcessBackend(dag_options)
        else:
            from hymir_airflow.backends.rest import RestBackend

            self._backend = RestBackend(api_url, username=username, password=password, token=token, unpause=unpause)
        self._runs: dict[str, tuple[Workflow, str]] = {}

    def run(self, workflow: Workflow, *, params: dict[str, Any] | None = None, dag_id: str | None = None) -> str:
        """Run ``workflow`` as the DAG ``dag_id`` (in-process, by default one named after the workflow).

        ``params`` override the workflow's params for this run; they travel as the DAG run's conf.
        """
        workflow.resolve_params(params)
        dag_id = dag_id or default_dag_id(workflow)
        run_id = self._backend.start(workflow, dag_id, dict(params or {}))
        self._runs[run_id] = (workflow, dag_id)
        return run_id

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        """Remote mode: wait until the deployment has loaded ``dag_id`` (DagNotFound lists import errors).

        In-process there is nothing to wait for: ``run()`` builds and registers the DAG itself.
        """
        self._backend.wait_for_dag(dag_id, timeout)

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
        workflow, dag_id = self._get(workflow_id)
        layout = WorkflowLayout.of(workflow)
        task_ids = layout.readable_ids
        wanted = list(task_ids) if job_ids is None else job_ids
        missing = [job_id for job_id in wanted if job_id not in task_ids]
        if missing:
            raise KeyError(f"workflow {workflow_id} has no jobs {missing}")
        names = [task_ids[job_id] for job_id in wanted]
        rows = self._backend.task_rows(dag_id, workflow_id)
        records = self._backend.records(dag_id, workflow_id, names, layout.free_id(RECORDS_TASK_ID))
        succeeded = [name for name in names if name in rows and job_status(rows[name].state) is JobStatus.SUCCESS]
        values = self._backend.return_values(dag_id, workflow_id, succeeded) if succeeded else {}
        states = {
            job_id: _job_state(rows.get(name), JobRecord.from_stored(records.get(name)), decode(values.get(name)))
            for job_id, name in zip(wanted, names, strict=True)
        }
        failed = [state for state in states.values() if state.status is JobStatus.FAILURE]
        stopped = workflow.fail_fast and any(state.exception is not None for state in failed)
        for job_id, state in states.items():
            if state.status is JobStatus.FAILURE and state.exception is None:
                state.exception = stopped_outcome().reason if stopped else _unrecorded(rows[task_ids[job_id]])
        return states

    def outputs(self, workflow_id: str) -> dict[str, list[Any]]:
        workflow = self.workflow(workflow_id)
        outputs = {job_id: job.output for job_id, job in workflow.jobs.items() if job.output is not None}
        result: dict[str, list[Any]] = {}
        for job_id, state in self.job_states(workflow_id, list(outputs)).items():
            if state.status is JobStatus.SUCCESS:
                result.setdefault(outputs[job_id], []).append(state.result)
        return result

    def clear(self, workflow_id: str) -> None:
        """Forget a finished run, deleting its DAG run (task instances, XComs, state) from Airflow."""
        _, dag_id = self._get(workflow_id)
        if not self.workflow_state(workflow_id).is_finished:
            raise WorkflowNotFinished(f"workflow {workflow_id} is still running; wait for it before clearing it")
        self._backend.delete_run(dag_id, workflow_id)
        del self._runs[workflow_id]


def _unrecorded(row: TaskRow) -> str:
    """Why a job failed whose task ended before the job could record a reason."""
    return (
        f"task {row.task_id} ended {row.state} in Airflow before the job recorded why "
        "(a sensor timeout, an execution timeout or a lost worker); read the task's log"
    )


def _job_state(row: TaskRow | None, record: JobRecord, value: Any) -> JobState:
    """A JobState from what Airflow knows (state) and what the job recorded (retries, checks, ...)."""
    if row is None:
        return JobState()
    status = job_status(row.state)
    return JobState(
        status=status,
        retries=record.retries,
        checks=record.checks,
        context=dict(record.context),
        exception=None if status is JobStatus.SUCCESS else record.exception,
        result=value if status is JobStatus.SUCCESS else record.result,
    )
