"""Hymir workflows on real, running Airflow deployments, driven through the REST API.

The deployments come from tests/deployment_fixtures.py: ``embedded`` (SQLite, LocalExecutor,
the example DAGs of ``dags/``) and ``distributed`` (CeleryExecutor, PostgreSQL, Redis, two
Celery workers).
"""

from __future__ import annotations

import time

import httpx
import pytest

from hymir import JobStatus, WorkflowStatus
from tests.deployment_fixtures import remote

pytestmark = [pytest.mark.airflow, pytest.mark.deployment]

DEFERRED_DAG = '''"""Airflow DAG: the CheckLater example with its waits deferred to the triggerer."""
from hymir.examples.waiting import waiting_workflow
from hymir_airflow import workflow_to_dag

dag = workflow_to_dag(waiting_workflow(), dag_id="hymir_waiting_deferred", deferrable=True)
'''


def test_api_errors_are_clear(embedded):
    from hymir.examples.flaky import flaky_workflow
    from hymir.examples.words import words_workflow
    from hymir_airflow import AirflowDeploymentExecutor
    from hymir_airflow.backends.rest import DagMismatch, DagNotFound, DagPaused, Unauthorized

    with pytest.raises(Unauthorized, match="refused the login of 'admin'"):
        AirflowDeploymentExecutor(embedded.api_url, username="admin", password="wrong")

    executor = remote(embedded)
    executor.wait_for_dag("hymir_flaky", timeout=120)
    # The job tasks are read from the deployed DAG (their docs, through GET /dags/{dag_id}/tasks), before triggering.
    with pytest.raises(DagMismatch) as mismatched:
        executor.run(words_workflow(), dag_id="hymir_flaky")
    message = str(mismatched.value)
    assert message.startswith(f"Airflow at {embedded.api_url}: DAG 'hymir_flaky' does not run the workflow given")
    assert "no task for uppercase (job 1, hymir.examples.words.uppercase), uppercase_2 (job 2," in message
    assert "tasks for jobs the workflow does not have: call_flaky_service (job 1, " in message
    with pytest.raises(DagPaused, match="'hymir_flaky' is paused"):
        executor.run(flaky_workflow(), dag_id="hymir_flaky")
    with pytest.raises(DagNotFound, match="has no DAG 'hymir_missing'"):
        executor.run(flaky_workflow(), dag_id="hymir_missing")
    with pytest.raises(DagNotFound) as not_found:
        executor.wait_for_dag("hymir_broken", timeout=5)
    message = str(not_found.value)
    assert "hymir_broken.py" in message
    assert "job 1 (hymir.examples.words.count): input 'words': no job produces it" in message


def test_embedded_deployment_runs_the_example_dags(embedded):
    from hymir.examples.cleanup import cleanup_workflow
    from hymir.examples.fanout import fanout_workflow
    from hymir.examples.flaky import flaky_workflow
    from hymir.examples.units import unit_workflow
    from hymir.examples.waiting import waiting_workflow
    from hymir.examples.words import words_workflow

    ready = embedded.home / "ready.txt"
    ready.write_text("ready")
    executor = remote(embedded, unpause=True)
    runs = {}
    for dag_id, workflow, params in [
        ("hymir_words", words_workflow(), None),
        ("hymir_flaky", flaky_workflow(), {"succeed_on_try": 3}),
        ("hymir_cleanup", cleanup_workflow(), None),
        ("hymir_waiting", waiting_workflow(), {"path": str(ready), "seconds": 20}),
        ("hymir_fanout", fanout_workflow(), {"count": 6}),
        ("hymir_unit", unit_workflow(), None),
    ]:
        executor.wait_for_dag(dag_id, timeout=120)
        runs[dag_id] = executor.run(workflow, dag_id=dag_id, params=params)
    for dag_id, run_id in runs.items():
        assert executor.wait(run_id, sleep=1, timeout=240).status is WorkflowStatus.SUCCESS, dag_id

    assert executor.outputs(runs["hymir_words"]) == {"words": ["HELLO", "HYMIR", "WORLD"], "count": [3]}

    flaky = executor.job_state(runs["hymir_flaky"], "1")
    assert (flaky.status, flaky.retries, flaky.result) == (JobStatus.SUCCESS, 2, {"answered_on_try": 3})

    report = executor.job_state(runs["hymir_cleanup"], "4")
    assert report.status is JobStatus.SUCCESS
    assert report.result == "workflow success: loaded 60 rows from 3 tables"

    waited = executor.job_states(runs["hymir_waiting"])
    assert waited["1"].status is JobStatus.SUCCESS and waited["1"].retries == 0
    assert 1 <= waited["1"].checks <= 2 and "started" in waited["1"].context
    assert waited["1"].result >= 20
    assert waited["2"].result == "ready" and waited["2"].checks == 0
    assert executor.progress(runs["hymir_waiting"]) == (3, 3)

    # Mapped on a scheduler and workers that parse one task each: six items, in the files' order.
    fanned = executor.job_states(runs["hymir_fanout"])
    assert [fanned[f"2[{index}]"].result for index in range(6)] == [2300, 2301, 2302, 2303, 2304, 2305]
    assert fanned["2"].status is JobStatus.SUCCESS and "2[6]" not in fanned
    assert executor.outputs(runs["hymir_fanout"])["report"] == [{"files": 6, "bytes": 13815, "largest": 2305}]

    # A unit retried as a whole in new task processes, read back over REST: the load failed once.
    unit = executor.job_states(runs["hymir_unit"])
    assert (unit["unit_1"].status, unit["unit_1"].retries) == (JobStatus.SUCCESS, 1)
    assert [unit[member].status for member in ("1", "2", "3")] == [JobStatus.SUCCESS] * 3
    assert executor.outputs(runs["hymir_unit"])["report"] == ["3 rows loaded"]


def test_deferred_checks_wait_on_the_triggerer_and_resume_with_their_record(embedded):
    from hymir.examples.waiting import waiting_workflow

    (embedded.dags_folder / "hymir_waiting_deferred.py").write_text(DEFERRED_DAG)
    ready = embedded.home / "ready-for-the-deferred-run.txt"
    ready.write_text("ready")
    executor = remote(embedded, unpause=True)
    executor.wait_for_dag("hymir_waiting_deferred", timeout=120)
    run_id = executor.run(
        waiting_workflow(), dag_id="hymir_waiting_deferred", params={"path": str(ready), "seconds": 20}
    )
    token = httpx.post(
        f"{embedded.api_url}/auth/token", json={"username": "admin", "password": embedded.password}, timeout=30
    ).json()["access_token"]
    task_path = f"/api/v2/dags/hymir_waiting_deferred/dagRuns/{run_id}/taskInstances/wait_for_seconds"

    def waiting_task() -> dict:
        answer = httpx.get(embedded.api_url + task_path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        return answer.json()

    deadline = time.monotonic() + 120
    while waiting_task()["state"] != "deferred":
        assert time.monotonic() < deadline, f"the waiting task never deferred: {waiting_task()}"
        time.sleep(0.5)
    assert executor.wait(run_id, sleep=1, timeout=240).status is WorkflowStatus.SUCCESS

    assert waiting_task()["try_number"] == 1
    waited = executor.job_states(run_id)
    assert waited["1"].status is JobStatus.SUCCESS and waited["1"].retries == 0
    assert 1 <= waited["1"].checks <= 2 and "started" in waited["1"].context
    assert waited["1"].result >= 20
    assert waited["2"].result == "ready" and waited["2"].checks == 0


def test_distributed_celery_deployment_spreads_jobs_over_both_workers(distributed):
    from tests.jobs.deploy import distributed_workflow

    executor = remote(distributed, unpause=True)
    executor.wait_for_dag("hymir_distributed", timeout=120)
    run_id = executor.run(distributed_workflow(), dag_id="hymir_distributed")

    assert executor.wait(run_id, sleep=1, timeout=300).status is WorkflowStatus.SUCCESS
    states = executor.job_states(run_id)
    assert all(state.status is JobStatus.SUCCESS for state in states.values())
    summary = states["11"].result
    assert summary["indexes"] == list(range(8))
    assert summary["dag_tasks"] == [1], "each worker builds only the task it runs (Airflow's parsing context)"
    assert states["12"].result == {"status": "success", "summaries": 1}
    assert summary["workers"] == ["celery-worker-1", "celery-worker-2"]
    assert summary["flaky_retries"] == 2 and states["9"].retries == 2
    assert states["10"].checks == 1 and states["10"].retries == 0
    assert summary["waited"] >= 15
    assert executor.outputs(run_id)["summary"] == [summary]
