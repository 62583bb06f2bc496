"""Jobs and workflows that the deployment tests run on real Airflow components."""

from __future__ import annotations

import os
import time

from hymir import Chain, CheckLater, Group, JobState, Retry, Success, Workflow, job


@job(output="worker")
def where_am_i(index: int, seconds: float):
    """Work for a moment, then say which Airflow component (Celery worker) ran this job.

    It also says how many tasks the DAG its worker parsed has: a worker builds only the task it runs.
    """
    from airflow.sdk import get_current_context

    time.sleep(seconds)
    dag_tasks = len(get_current_context()["dag"].task_dict)
    return Success({"index": index, "worker": os.environ.get("HYMIR_COMPONENT"), "dag_tasks": dag_tasks})


@job(inputs=["job_state"], output="flaky")
def flaky(*, job_state: JobState):
    """Ask for two retries, then succeed with the number of retries seen."""
    if job_state.retries < 2:
        return Retry(wait_min=1, wait_max=2, max_retries=3)
    return Success(job_state.retries)


@job(inputs=["job_state"], output="waited")
def wait_once(*, job_state: JobState):
    """Ask to be checked later once, keeping a note in the context; succeed at the second check."""
    if "first_check" not in job_state.context:
        return CheckLater(wait_for=1, context={"first_check": time.time()})
    return Success(round(time.time() - job_state.context["first_check"], 1))


@job(inputs=["worker", "flaky", "waited"], output="summary")
def gather(worker: list[dict], flaky: int, waited: float):
    """Receive every worker report, the flaky job's retries and the wait."""
    return Success(
        {
            "indexes": [report["index"] for report in worker],
            "dag_tasks": sorted({report["dag_tasks"] for report in worker}),
            "workers": sorted({report["worker"] for report in worker}),
            "flaky_retries": flaky,
            "waited": waited,
        }
    )


def distributed_workflow(parallel: int = 8, seconds: float = 3) -> Workflow:
    """A Group of parallel jobs beside a Retry and a CheckLater job, all feeding one consumer."""
    jobs = [where_am_i(index, seconds) for index in range(parallel)]
    workflow = Workflow(Chain(Group(*jobs, flaky(), wait_once()), gather()))
    return workflow.on(Workflow.Callbacks.ON_FINISHED, report_outcome())


@job(inputs=["workflow_state", "summary"], output="outcome")
def report_outcome(workflow_state, summary: list[dict]):
    """An ON_FINISHED callback: the run's outcome and how many summaries it saw."""
    return Success({"status": workflow_state.status.value, "summaries": len(summary)})
