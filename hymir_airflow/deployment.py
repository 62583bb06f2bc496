"""AirflowDeploymentExecutor: the Hymir Executor API over a running Airflow deployment, through its REST API."""

from __future__ import annotations

from typing import Any

from hymir.layout import WorkflowLayout
from hymir.workflow import Workflow
from hymir_airflow.backends.rest import DagMismatch, RestBackend
from hymir_airflow.executor import BaseAirflowExecutor
from hymir_airflow.task_docs import UNIT_FUNCTION

#: How many tasks a mismatch message lists of each kind before it only counts the rest.
_LISTED = 10


class AirflowDeploymentExecutor(BaseAirflowExecutor):
    """Triggers the Hymir DAGs a deployment runs and reads every job back through Airflow's REST API.

    ``api_url`` is the deployment's address (the api-server, e.g. ``http://127.0.0.1:8080``);
    it logs in with ``username`` and ``password``, or sends ``token``. ``unpause=True`` unpauses
    a paused DAG instead of raising ``DagPaused``. The deployment runs the DAGs its DAG files
    build, so DAG options belong to ``workflow_to_dag`` in those files, not here.
    """

    def __init__(
        self,
        api_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        unpause: bool = False,
        **dag_options: object,
    ):
        if dag_options:
            raise TypeError(
                f"AirflowDeploymentExecutor takes no DAG options ({', '.join(dag_options)}): the deployment "
                "runs the DAG its DAG file builds, so give them to workflow_to_dag there (or run the "
                "workflow in this process with hymir_airflow.AirflowExecutor(**dag_options))"
            )
        self._rest = RestBackend(api_url, username=username, password=password, token=token, unpause=unpause)
        super().__init__(self._rest)

    def run(self, workflow: Workflow, *, dag_id: str | None = None, params: dict[str, Any] | None = None) -> str:
        """Trigger the deployed DAG ``dag_id``, which runs ``workflow``, and return at once with the run's id.

        ``dag_id`` is required: the deployment runs the DAG it has, under that DAG's id. The DAG's
        tasks must run exactly the workflow's jobs (``DagMismatch`` names the tasks that differ), so
        that what is read back belongs to the jobs of ``workflow``. ``params`` override the
        workflow's params for this run; they travel as the DAG run's conf.
        """
        if dag_id is None:
            raise TypeError(
                "AirflowDeploymentExecutor.run() needs dag_id=...: the deployment runs the DAG it has, "
                "under that DAG's id (the dag_id its DAG file gives workflow_to_dag)"
            )
        workflow.resolve_params(params)
        problem = mismatch(dag_id, self._rest.job_tasks(dag_id), workflow)
        if problem is not None:
            raise DagMismatch(f"Airflow at {self._rest.api_url}: {problem}")
        return self._start(workflow, dag_id, params)

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        """Wait until the deployment has loaded ``dag_id``; after ``timeout`` s, ``DagNotFound`` lists import errors."""
        self._rest.wait_for_dag(dag_id, timeout)


def mismatch(dag_id: str, deployed: dict[str, tuple[str, str]], workflow: Workflow) -> str | None:
    """Why the DAG whose job tasks are ``deployed`` (``{task_id: (job id, function)}``) does not run ``workflow``.

    None when its tasks run exactly the workflow's jobs, units and callbacks, each under the task id
    the factory gives it: then reading a run back by those task ids reads the workflow's jobs.
    """
    task_ids = WorkflowLayout.of(workflow).step_ids
    expected = {
        task_id: (job_id, workflow[job_id].name)
        for job_id, task_id in task_ids.items()
        if workflow.unit_of(job_id) is None
    }
    expected.update((task_ids[unit.members[0]], (unit_id, UNIT_FUNCTION)) for unit_id, unit in workflow.units.items())
    if deployed == expected:
        return None
    missing = [task_id for task_id in expected if task_id not in deployed]
    extra = [task_id for task_id in deployed if task_id not in expected]
    changed = [task_id for task_id in expected if task_id in deployed and deployed[task_id] != expected[task_id]]
    parts = []
    if missing:
        parts.append(f"it has no task for {_listed(missing, expected)}")
    if extra:
        parts.append(f"it has tasks for jobs the workflow does not have: {_listed(extra, deployed)}")
    if changed:
        parts.append(f"its tasks run other jobs: {_listed(changed, deployed)} instead of {_listed(changed, expected)}")
    if not deployed:
        parts.append("none of its tasks names a Hymir job, so it is not a DAG that workflow_to_dag built")
    return (
        f"DAG {dag_id!r} does not run the workflow given: {'; '.join(parts)}. "
        "Pass run() the workflow that the DAG's file builds."
    )


def _listed(task_ids: list[str], jobs: dict[str, tuple[str, str]]) -> str:
    """``task (job 3, pkg.function), ...``, the first few of ``task_ids`` and how many more."""
    shown = ", ".join(f"{task_id} (job {jobs[task_id][0]}, {jobs[task_id][1]})" for task_id in task_ids[:_LISTED])
    more = len(task_ids) - _LISTED
    return shown if more <= 0 else f"{shown} and {more} more"
