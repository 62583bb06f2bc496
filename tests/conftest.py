"""Shared fixtures: a private Airflow home for the whole session, and an executor per engine."""

from __future__ import annotations

import base64
import importlib.util
import os
import tempfile

import pytest

# Airflow reads its configuration when first imported, so the private home is set up before any
# test module can import it: SQLite in a temporary folder, an empty dags folder, no examples.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="hymir-test-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(_AIRFLOW_HOME, "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# As on a real deployment: Airflow encrypts with it, and Hymir seals the job contexts that hold secrets.
os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode())
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
os.makedirs(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], exist_ok=True)

HAVE_AIRFLOW = importlib.util.find_spec("airflow") is not None

pytest_plugins = ["tests.deployment_fixtures"]

ENGINES = ["local", pytest.param("airflow", marks=pytest.mark.airflow)]


@pytest.fixture(scope="session")
def airflow_executor():
    """One in-process AirflowExecutor (dag.test on the private SQLite database) for the session."""
    if not HAVE_AIRFLOW:
        pytest.skip("Apache Airflow is not installed")
    from hymir_airflow import AirflowExecutor

    return AirflowExecutor()


@pytest.fixture(params=ENGINES)
def executor(request):
    """Each engine in turn: the LocalExecutor on virtual time, and Airflow through dag.test().

    The one meaning of ``executor`` in the suite; a test of one engine asks for ``local_executor``
    or ``airflow_executor``.
    """
    if request.param == "local":
        from hymir.clock import VirtualClock
        from hymir.executors.local import LocalExecutor

        return LocalExecutor(clock=VirtualClock())
    return request.getfixturevalue("airflow_executor")
