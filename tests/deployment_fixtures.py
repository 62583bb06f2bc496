"""Fixtures that start real Airflow deployments for the deployment and reliability tests.

* ``embedded``: api-server, scheduler, dag-processor and triggerer on SQLite with LocalExecutor,
  loading a copy of ``dags/`` (plus one broken DAG file);
* ``distributed``: the same components with CeleryExecutor, a PostgreSQL database made for the
  session, Redis as the broker and two Celery workers, loading ``tests/deployment_dags/``.

They stop every process and drop the database they made, even when tests fail. They skip only
when PostgreSQL or Redis is absent, and fail instead when HYMIR_REQUIRE_SERVICES=1 (as in CI).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get("HYMIR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("HYMIR_TEST_REDIS", "redis://127.0.0.1:6379")

BROKEN_DAG = '''"""Airflow DAG whose workflow is invalid: its consumer's input has no producer."""
from hymir import Chain, Workflow
from hymir.examples.words import count
from hymir_airflow import workflow_to_dag

dag = workflow_to_dag(Workflow(Chain(count())), dag_id="hymir_broken")
'''


def service_missing(reason: str) -> None:
    """Skip for want of a service, unless CI demands every service (HYMIR_REQUIRE_SERVICES=1)."""
    if os.environ.get("HYMIR_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and HYMIR_REQUIRE_SERVICES=1 forbids skipping")
    pytest.skip(reason)


def report(message: str) -> None:
    print(f"[deployment] {message}")


def running(deployment):
    """For a fixture: yield the started deployment, and stop whatever it started, also when starting failed."""
    try:
        deployment.start(report=report)
        yield deployment
    finally:
        deployment.stop(report=report)


def remote(deployment, **options):
    """An AirflowDeploymentExecutor on the deployment's REST API, logged in as admin."""
    from hymir_airflow import AirflowDeploymentExecutor

    return AirflowDeploymentExecutor(deployment.api_url, username="admin", password=deployment.password, **options)


@pytest.fixture(scope="session")
def embedded(tmp_path_factory):
    from hymir_airflow.launcher import LocalDeployment, free_port

    home = tmp_path_factory.mktemp("embedded")
    dags = home / "dags"
    shutil.copytree(ROOT / "dags", dags)
    (dags / "hymir_broken.py").write_text(BROKEN_DAG)
    deployment = LocalDeployment(home=home / "airflow", dags_folder=dags, port=free_port())
    yield from running(deployment)


@pytest.fixture(scope="session")
def postgres_database():
    """A fresh PostgreSQL database for the session, dropped afterwards."""
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


@pytest.fixture(scope="session")
def redis_broker():
    """A Redis database number of its own on the local server, flushed afterwards."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(f"{REDIS_URL}/0", socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        service_missing(f"Redis is not reachable at {REDIS_URL}: {error}")
    url = f"{REDIS_URL}/{1 + uuid.uuid4().int % 15}"
    yield url
    redis.Redis.from_url(url).flushdb()


@pytest.fixture(scope="session")
def distributed(tmp_path_factory, postgres_database, redis_broker):
    from hymir_airflow.launcher import LocalDeployment, free_port

    home = tmp_path_factory.mktemp("distributed")
    deployment = LocalDeployment(
        home=home / "airflow",
        dags_folder=ROOT / "tests" / "deployment_dags",
        port=free_port(),
        executor="CeleryExecutor",
        database_url=postgres_database,
        broker_url=redis_broker,
        celery_workers=2,
        worker_concurrency=4,
        parallelism=16,
        extra_env={
            "PYTHONPATH": str(ROOT),
            # tests/test_reliability.py kills workers: notice a task whose worker died within ~25 s
            # (Airflow's default is 300 s); tasks heartbeat every 5 s, so 20 s leaves three misses.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        },
    )
    yield from running(deployment)
