"""Hymir workflows on real, running Airflow deployments, driven through the REST API.

* embedded: api-server, scheduler, dag-processor and triggerer on SQLite with LocalExecutor,
  running the example DAGs of ``dags/``;
* distributed: the same components with CeleryExecutor, a PostgreSQL database made for the test,
  Redis as the broker and two Celery workers.

Both clean up every process and database they start. They skip only when PostgreSQL or Redis is
absent, and fail instead when HYMIR_REQUIRE_SERVICES=1 (as in CI).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from hymir import JobStatus, WorkflowStatus

pytestmark = [pytest.mark.airflow, pytest.mark.deployment]

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get("HYMIR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("HYMIR_TEST_REDIS", "redis://127.0.0.1:6379")

BROKEN_DAG = '''"""Airflow DAG whose workflow is invalid: its consumer's input has no producer."""
from hymir import Chain, Workflow
from hymir.examples.words import count
from hymir_airflow import workflow_to_dag

dag = workflow_to_dag(Workflow(Chain(count())), dag_id="hymir_broken")
'''

DISTRIBUTED_DAG = '''"""Airflow DAG for the distributed deployment test."""
from hymir_airflow import workflow_to_dag
from tests.deploy_jobs import distributed_workflow

dag = workflow_to_dag(distributed_workflow(), dag_id="hymir_distributed")
'''


def service_missing(reason: str) -> None:
    if os.environ.get("HYMIR_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and HYMIR_REQUIRE_SERVICES=1 forbids skipping")
    pytest.skip(reason)


def start(deployment):
    from hymir_airflow.launcher import DeploymentError

    try:
        deployment.start(report=lambda message: print(f"[deployment] {message}"))
    except DeploymentError:
        deployment.stop()
        raise
    return deployment


def remote(deployment, **options):
    from hymir_airflow import AirflowExecutor

    return AirflowExecutor(api_url=deployment.api_url, username="admin", password=deployment.password, **options)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    from hymir_airflow.launcher import LocalDeployment, free_port

    home = tmp_path_factory.mktemp("embedded")
    dags = home / "dags"
    shutil.copytree(ROOT / "dags", dags)
    (dags / "hymir_broken.py").write_text(BROKEN_DAG)
    deployment = LocalDeployment(home=home / "airflow", dags_folder=dags, port=free_port())
    yield start(deployment)
    deployment.stop()


@pytest.fixture(scope="module")
def postgres_database():
    """A fresh PostgreSQL database for the test, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as error:
        service_missing(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}")
    name = f"hymir_test_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module")
def redis_broker():
    """A Redis database number of its own on the local server, flushed afterwards."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(f"{REDIS_URL}/0", socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        service_missing(f"Redis is not reachable at {REDIS_URL}: {error}")
    number = 1 + uuid.uuid4().int % 15
    url = f"{REDIS_URL}/{number}"
    yield url
    redis.Redis.from_url(url).flushdb()


@pytest.fixture(scope="module")
def distributed(tmp_path_factory, postgres_database, redis_broker):
    from hymir_airflow.launcher import LocalDeployment, free_port

    home = tmp_path_factory.mktemp("distributed")
    dags = home / "dags"
    dags.mkdir()
    (dags / "hymir_distributed.py").write_text(DISTRIBUTED_DAG)
    deployment = LocalDeployment(
        home=home / "airflow",
        dags_folder=dags,
        port=free_port(),
        executor="CeleryExecutor",
        database_url=postgres_database,
        broker_url=redis_broker,
        celery_workers=2,
        worker_concurrency=4,
        parallelism=16,
        extra_env={"PYTHONPATH": str(ROOT)},
    )
    yield start(deployment)
    deployment.stop()


def test_api_errors_are_clear(embedded):
    from hymir.examples.flaky import flaky_workflow
    from hymir_airflow.rest import DagNotFound, DagPaused, Unauthorized

    with pytest.raises(Unauthorized, match="refused the login of 'admin'"):
        from hymir_airflow import AirflowExecutor

        AirflowExecutor(api_url=embedded.api_url, username="admin", password="wrong")

    executor = remote(embedded)
    executor.wait_for_dag("hymir_flaky", timeout=120)
    with pytest.raises(DagPaused, match="'hymir_flaky' is paused"):
        executor.run(flaky_workflow(), dag_id="hymir_flaky")
    with pytest.raises(DagNotFound) as not_found:
        executor.wait_for_dag("hymir_broken", timeout=5)
    message = str(not_found.value)
    assert "hymir_broken.py" in message
    assert "job 1 (hymir.examples.words.count): input 'words': no job produces it" in message


def test_embedded_deployment_runs_the_example_dags(embedded):
    from hymir.examples.cleanup import cleanup_workflow
    from hymir.examples.flaky import flaky_workflow
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


def test_distributed_celery_deployment_spreads_jobs_over_both_workers(distributed):
    from tests.deploy_jobs import distributed_workflow

    executor = remote(distributed, unpause=True)
    executor.wait_for_dag("hymir_distributed", timeout=120)
    run_id = executor.run(distributed_workflow(), dag_id="hymir_distributed")

    assert executor.wait(run_id, sleep=1, timeout=300).status is WorkflowStatus.SUCCESS
    states = executor.job_states(run_id)
    assert all(state.status is JobStatus.SUCCESS for state in states.values())
    summary = states["11"].result
    assert summary["indexes"] == list(range(8))
    assert summary["workers"] == ["celery-worker-1", "celery-worker-2"]
    assert summary["flaky_retries"] == 2 and states["9"].retries == 2
    assert states["10"].checks == 1 and states["10"].retries == 0
    assert summary["waited"] >= 15
    assert executor.outputs(run_id)["summary"] == [summary]
