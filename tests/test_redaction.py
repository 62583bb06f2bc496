"""What Hymir stores for display on Airflow passes the secrets masker; the jobs still get real values.

Runs in-process (dag.test on the session's SQLite database, with a Fernet key as a deployment has):
a job's exception text, its Failure value and its CheckLater context hold a secret; the job
records and the task state store must show ``***`` (or an encrypted seal), while the job gets
its real context back at the next check and its output stays the user's own value.
"""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.airflow

airflow = pytest.importorskip("airflow")

from airflow.models.variable import Variable  # noqa: E402
from airflow.utils.session import create_session  # noqa: E402

from hymir import Group, JobStatus, Workflow  # noqa: E402
from hymir.layout import WorkflowLayout  # noqa: E402
from hymir_airflow.compat import read_records  # noqa: E402
from hymir_airflow.state import STORE_KEY  # noqa: E402
from tests.jobs import redaction as jobs  # noqa: E402


@pytest.fixture
def secret(airflow_executor) -> str:
    value = f"sk-{uuid.uuid4().hex}"
    from hymir_airflow.backends.database import ensure_database

    ensure_database()
    Variable.set(jobs.SECRET_VARIABLE, value)
    yield value
    Variable.delete(jobs.SECRET_VARIABLE)


def stored_records(workflow: Workflow, dag_id: str, run_id: str) -> list[str]:
    """The records of the run's jobs as stored in the metadata database, as text."""
    with create_session() as session:
        found = read_records(session, dag_id, run_id, WorkflowLayout.of(workflow).readable_ids.values(), STORE_KEY)
    return [str(value) for value in found.values()]


def test_records_are_masked_and_the_job_still_gets_its_context(airflow_executor, secret):
    password = f"pw-{uuid.uuid4().hex}"
    workflow = Workflow(
        Group(jobs.leak_in_exception(), jobs.leak_in_failure(), jobs.keep_password_in_context(password))
    )
    run_id = airflow_executor.run(workflow)
    airflow_executor.wait(run_id, timeout=120)
    states = airflow_executor.job_states(run_id)

    raised, failed, waited = states["1"], states["2"], states["3"]
    assert raised.status is JobStatus.FAILURE
    assert "RuntimeError: could not connect to postgresql://admin:***@db.example/orders" in raised.exception
    assert secret not in raised.exception
    assert failed.status is JobStatus.FAILURE
    assert failed.result == {"tried_with": "***"}
    assert secret not in failed.exception
    assert waited.status is JobStatus.SUCCESS, waited.exception
    assert waited.context == {"cached_password": "***", "step": 1}
    # The job got the real context back, and its output is its own value: outputs are user data.
    assert waited.result == password
    assert airflow_executor.outputs(run_id) == {"password": [password]}

    records = stored_records(workflow, airflow_executor.dag_id(run_id), run_id)
    assert len(records) == 3
    assert all(secret not in record and password not in record for record in records), records
    sealed = [record for record in records if "sealed_context" in record and "gAAAA" in record]
    assert len(sealed) == 1, "the context with the password is sealed with the Fernet key"


def test_the_grid_label_of_a_mapped_item_is_masked(airflow_executor, secret):
    """An item's map_index_template label (rendered_map_index, stored and shown by Airflow) has the secret masked."""
    from sqlalchemy import select

    from airflow.models.taskinstance import TaskInstance

    from hymir import Chain, Map

    workflow = Workflow(Chain(jobs.tokens_with_secret(), Map(jobs.token_length(), over=("tokens", "token"))))
    run_id = airflow_executor.run(workflow)
    airflow_executor.wait(run_id, timeout=120)
    assert airflow_executor.job_state(run_id, "2").result == [len(f"token={secret}"), 5]

    with create_session() as session:
        labels = session.execute(
            select(TaskInstance.map_index, TaskInstance.rendered_map_index).where(
                TaskInstance.run_id == run_id, TaskInstance.task_id == "token_length"
            )
        ).all()
    assert sorted(labels) == [(0, '0: "token=***"'), (1, '1: "plain"')]
