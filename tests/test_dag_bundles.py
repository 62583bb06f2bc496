"""Hymir DAGs shipped as a versioned Git DAG bundle: every run keeps the code of the commit it started on.

The test makes a git repository whose root holds a job module and a DAG file, deploys it with
``GitDagBundle`` (apache-airflow-providers-git) on a real Airflow (nothing of it is on any
component's PYTHONPATH), and lets a waiting run straddle a commit that changes the job's code.
The run started before the commit must finish with the old code, a run started after it with the
new, and Airflow must record one DAG version per commit.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from hymir import JobStatus, Workflow, WorkflowStatus
from tests.deployment_fixtures import remote, running, service_missing

pytestmark = [pytest.mark.airflow, pytest.mark.deployment]

T = TypeVar("T")

DAG_ID = "hymir_bundle"
BUNDLE = "hymir-git"
CONNECTION = "hymir_bundle_git"
JOBS_MODULE = "bundle_jobs"
JOBS_FILE = f"{JOBS_MODULE}.py"
TASK_ID = "answer"

#: The job module at the bundle's root; ``{mark}`` is what the job answers, different in each commit.
JOBS = '''"""Jobs of the Git bundle test: wait for a flag file, then tell which commit's code ran."""

import os

from hymir import Chain, CheckLater, Success, Workflow, job


@job(inputs=["flag"], output="answer")
def answer(*, flag: str):
    """Check again later until the flag file exists; then answer with this code's mark and file."""
    if not os.path.exists(flag):
        return CheckLater(wait_for=1)
    return Success({{"code": "{mark}", "module": __file__}})


def bundle_workflow() -> Workflow:
    """The one waiting job."""
    return Workflow(Chain(answer()), params={{"flag": "/nonexistent/flag"}})
'''

#: The DAG file beside it: it imports the job module from the bundle's root.
DAG_FILE = f'''"""Airflow DAG of the Git bundle test: the workflow of {JOBS_FILE}, found at this bundle's root."""

from {JOBS_MODULE} import bundle_workflow
from hymir_airflow import workflow_to_dag

dag = workflow_to_dag(bundle_workflow(), dag_id="{DAG_ID}")
'''


def git(repository: Path, *arguments: str) -> str:
    """Run git in ``repository`` with a fixed identity (none is configured in CI) and return its output."""
    command = ["git", "-C", str(repository), "-c", "user.name=Hymir test", "-c", "user.email=hymir@example.invalid"]
    done = subprocess.run([*command, *arguments], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def commit_jobs(repository: Path, mark: str) -> str:
    """Commit a job module whose job answers ``mark``; return the commit's SHA."""
    (repository / JOBS_FILE).write_text(JOBS.format(mark=mark))
    git(repository, "add", "--all")
    git(repository, "commit", "--quiet", "--no-gpg-sign", "--message", f"jobs answer {mark}")
    return git(repository, "rev-parse", "HEAD")


def bundle_config() -> str:
    """The ``[dag_processor] dag_bundle_config_list``: only the Git bundle, looked at every second.

    The repository's URL is the host of the connection ``bundle_connection`` makes.
    """
    kwargs = {"git_conn_id": CONNECTION, "tracking_ref": "main", "refresh_interval": 1}
    bundle = {"name": BUNDLE, "classpath": "airflow.providers.git.bundles.git.GitDagBundle", "kwargs": kwargs}
    return json.dumps([bundle])


def bundle_connection(repository: Path) -> str:
    """The git connection to ``repository``, as an ``AIRFLOW_CONN_...`` value (a local path needs no credentials)."""
    return json.dumps({"conn_type": "git", "host": str(repository)})


def require_git_bundles() -> None:
    """Skip without git or the Git provider (``service_missing``: fail instead where CI demands everything)."""
    if shutil.which("git") is None:
        service_missing("git is not installed")
    try:
        importlib.metadata.distribution("apache-airflow-providers-git")
    except importlib.metadata.PackageNotFoundError:
        service_missing("apache-airflow-providers-git is not installed")


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    """A git repository (branch ``main``) whose first commit holds the DAG file and the job module."""
    require_git_bundles()
    path = tmp_path_factory.mktemp("bundle-repository")
    git(path, "init", "--quiet", "--initial-branch", "main")
    (path / "hymir_bundle_dag.py").write_text(DAG_FILE)
    commit_jobs(path, "commit 1")
    return path


@pytest.fixture(scope="module")
def bundled(tmp_path_factory, repository):
    """Airflow (LocalExecutor, SQLite) whose only DAG bundle is ``repository``, stopped afterwards.

    The launcher has no bundle setting, so the bundle list, its connection and its storage folder
    come through the environment; the dags folder it needs is empty and, not in the list, never
    read. The dag-processor looks at the bundle every second (Airflow's default: 5 s), parses its
    file every two (the launcher's: 10 s) and writes a changed DAG at once (Airflow's default:
    at most every 30 s), so that a commit becomes a DAG version within seconds.
    """
    from hymir_airflow.launcher import LocalDeployment, free_port

    home = tmp_path_factory.mktemp("bundled")
    deployment = LocalDeployment(
        home=home / "airflow",
        dags_folder=home / "unused-dags-folder",
        port=free_port(),
        extra_env={
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": bundle_config(),
            f"AIRFLOW_CONN_{CONNECTION.upper()}": bundle_connection(repository),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": str(home / "bundle-storage"),
            "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "1",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "2",
            "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "0",
        },
    )
    yield from running(deployment)


@pytest.fixture
def api(bundled) -> Iterator[httpx.Client]:
    """A client of the deployment's ``/api/v2``, logged in as admin, for what AirflowExecutor does not read."""
    login = httpx.post(
        f"{bundled.api_url}/auth/token", json={"username": "admin", "password": bundled.password}, timeout=30
    )
    login.raise_for_status()
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    with httpx.Client(base_url=f"{bundled.api_url}/api/v2", headers=headers, timeout=30) as client:
        yield client


def fetch(api: httpx.Client, path: str) -> dict[str, Any]:
    """GET ``path`` and return its JSON body, failing on any HTTP error."""
    response = api.get(path)
    response.raise_for_status()
    return response.json()


def eventually(what: str, probe: Callable[[], T], timeout: float) -> T:
    """Ask ``probe`` about once a second until its answer is true and return it; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (answer := probe()):
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what}")
        time.sleep(1)
    return answer


def dag_versions(api: httpx.Client) -> list[dict[str, Any]]:
    """The DAG's versions, oldest first."""
    return fetch(api, f"/dags/{DAG_ID}/dagVersions?order_by=version_number")["dag_versions"]


def version_of(api: httpx.Client, commit: str) -> dict[str, Any] | None:
    """The DAG version Airflow made from ``commit``, if it has made one yet."""
    return next((version for version in dag_versions(api) if version["bundle_version"] == commit), None)


@pytest.fixture
def bundle_workflow(repository, monkeypatch) -> Iterator[Workflow]:
    """The bundle's workflow, imported in the test process only: triggering a run validates the job against it.

    It is imported from the repository's first commit; the module is forgotten afterwards.
    """
    monkeypatch.syspath_prepend(str(repository))
    yield importlib.import_module(JOBS_MODULE).bundle_workflow()
    sys.modules.pop(JOBS_MODULE, None)


def code_fingerprints(database: Path) -> dict[int, str]:
    """The ``hymir_code`` of the job's task in each DAG version's serialized DAG, by version number."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT version.version_number, serialized.data FROM serialized_dag AS serialized"
            " JOIN dag_version AS version ON serialized.dag_version_id = version.id WHERE serialized.dag_id = ?",
            (DAG_ID,),
        ).fetchall()
    return {number: task_field(json.loads(data), TASK_ID, "hymir_code") for number, data in rows}


def task_field(serialized: dict[str, Any], task_id: str, name: str) -> Any:
    """One field of one task in a serialized DAG."""
    tasks = [task["__var"] for task in serialized["dag"]["tasks"]]
    return next(task[name] for task in tasks if task["task_id"] == task_id)


def fingerprint(mark: str) -> str:
    """Hymir's code fingerprint of the job module that answers ``mark``: a hash of its source."""
    return hashlib.sha256(JOBS.format(mark=mark).encode()).hexdigest()[:16]


def test_a_run_keeps_the_commit_it_started_on_and_the_next_run_takes_the_new_one(
    repository, bundled, api, bundle_workflow, tmp_path
):
    """A run straddling a commit finishes on its own commit's code and DAG version; the next run is on the new."""
    executor = remote(bundled, unpause=True)
    (job_id,) = bundle_workflow.jobs
    flag = tmp_path / "flag"
    first_commit = git(repository, "rev-parse", "HEAD")

    executor.wait_for_dag(DAG_ID, timeout=120)
    first = executor.run(bundle_workflow, dag_id=DAG_ID, params={"flag": str(flag)})
    eventually("the first run's job to be checked once", lambda: executor.job_state(first, job_id).checks, 60)
    second_commit = commit_jobs(repository, "commit 2")
    new_version = eventually("a DAG version of the second commit", lambda: version_of(api, second_commit), 90)
    flag.write_text("go")
    assert executor.wait(first, sleep=1, timeout=90).status is WorkflowStatus.SUCCESS
    second = executor.run(bundle_workflow, dag_id=DAG_ID, params={"flag": str(flag)})
    assert executor.wait(second, sleep=1, timeout=90).status is WorkflowStatus.SUCCESS

    versions_folder = bundled.home.parent / "bundle-storage" / BUNDLE / "versions"
    old, new = executor.job_state(first, job_id), executor.job_state(second, job_id)
    assert (old.status, new.status) == (JobStatus.SUCCESS, JobStatus.SUCCESS)
    assert old.checks >= 1 and new.checks == 0
    assert old.result == {"code": "commit 1", "module": str(versions_folder / first_commit / JOBS_FILE)}
    assert new.result == {"code": "commit 2", "module": str(versions_folder / second_commit / JOBS_FILE)}

    # The first run's task finished after Airflow had the second commit's version, yet ran the first's.
    task = fetch(api, f"/dags/{DAG_ID}/dagRuns/{first}/taskInstances/{TASK_ID}")
    assert datetime.fromisoformat(task["end_date"]) > datetime.fromisoformat(new_version["created_at"])
    assert task["dag_version"]["bundle_version"] == first_commit

    runs = {run: fetch(api, f"/dags/{DAG_ID}/dagRuns/{run}") for run in (first, second)}
    assert runs[first]["bundle_version"] == first_commit
    assert [version["bundle_version"] for version in runs[first]["dag_versions"]] == [first_commit]
    assert runs[second]["bundle_version"] == second_commit
    assert [version["bundle_version"] for version in runs[second]["dag_versions"]] == [second_commit]

    versions = [(version["version_number"], version["bundle_version"]) for version in dag_versions(api)]
    assert versions == [(1, first_commit), (2, second_commit)]
    assert code_fingerprints(bundled.home / "airflow.db") == {
        1: fingerprint("commit 1"),
        2: fingerprint("commit 2"),
    }
