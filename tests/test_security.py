"""Security: what a serialized workflow may import, and secrets kept out of rendered fields and logs.

* ``Workflow.deserialize`` imports job functions only from allowed module prefixes, and refuses any
  other before importing it (canary modules record an import in a file and in ``sys.modules``);
* secrets a job gets from an Airflow Variable or Connection (read in the job, or rendered into its
  templated arguments) are masked in the rendered fields stored in the database and in the task
  log, in-process (dag.test) and on a real deployment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from hymir import InvalidWorkflow, Workflow
from hymir.job import resolve_function
from hymir.trust import ALLOWED_MODULES_VARIABLE
from tests.jobs import reliability as jobs

ROOT = Path(__file__).resolve().parent.parent


def say(message: str) -> None:
    print(f"[security] {message}", flush=True)


# --- 1. allowed modules ----------------------------------------------------------------------------

CANARY = '''
"""A module that records being imported: in the file {marker!r}."""
import os
with open({marker!r}, "a") as handle:
    handle.write(f"imported by {{os.getpid()}}\\n")


def job_function():
    """Would run if a workflow could name it."""
    return None
'''


@pytest.fixture
def canary(tmp_path, monkeypatch):
    """Make a fresh canary module importable; return (module name, marker file) factories."""
    folder = tmp_path / "importable"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))

    def make(name: str | None = None) -> tuple[str, Path]:
        name = name or f"hymir_canary_{uuid.uuid4().hex[:10]}"
        marker = tmp_path / f"{name}.imported"
        (folder / f"{name}.py").write_text(CANARY.format(marker=str(marker)))
        return name, marker

    return make


def serialized(name: str) -> dict:
    """A serialized one-job workflow whose job function is ``name`` (written by hand, never imported)."""
    return {
        "version": 1,
        "jobs": [
            {"name": name, "identity": "1", "args": [], "kwargs": {}, "output": None, "inputs": None, "meta": None}
        ],
        "edges": [],
        "structure": {"chain": ["1"]},
        "params": {},
        "callbacks": {"on_finished": []},
    }


def assert_refused_before_import(data: dict, module: str, marker: Path, allowed, match: str) -> str:
    with pytest.raises(InvalidWorkflow, match=match) as refused:
        Workflow.deserialize(json.dumps(data), allowed_modules=allowed)
    assert not marker.exists(), f"{module} was imported although it was refused"
    assert module not in sys.modules
    return str(refused.value)


def test_canary_proves_an_import_is_visible(canary):
    """The control: when the canary's module is allowed, deserializing imports it, and we can tell."""
    module, marker = canary()
    workflow = Workflow.deserialize(json.dumps(serialized(f"{module}.job_function")), allowed_modules=[module])
    assert marker.read_text().startswith("imported by") and module in sys.modules
    assert workflow["1"].function.__module__ == module
    say(f"control: allowing {module} imports it (marker written, in sys.modules)")


def test_module_outside_the_allowed_prefixes_is_refused_before_import(canary):
    module, marker = canary()
    message = assert_refused_before_import(
        serialized(f"{module}.job_function"), module, marker, ["tests"], "is not in an allowed module"
    )
    assert f"'{module}.job_function'" in message and "allowed: tests" in message
    assert "allowed_modules" in message and ALLOWED_MODULES_VARIABLE in message
    say(f"refused before import: {message}")


def test_prefix_is_matched_on_whole_module_names(canary):
    """'tests' allows tests.x, not testsuite_x: a prefix of the text is not a parent package."""
    module, marker = canary("tests_" + uuid.uuid4().hex[:8])
    message = assert_refused_before_import(
        serialized(f"{module}.job_function"), module, marker, ["tests"], "is not in an allowed module"
    )
    say(f"{module} is not under 'tests': {message[:90]}...")


@pytest.mark.parametrize("allowed", [[], None], ids=["empty-list", "no-setting"])
def test_nothing_is_allowed_unless_configured(canary, monkeypatch, allowed):
    monkeypatch.delenv(ALLOWED_MODULES_VARIABLE, raising=False)
    module, marker = canary()
    for name in (f"{module}.job_function", "tests.jobs.reliability.seed"):
        message = assert_refused_before_import(serialized(name), module, marker, allowed, r"\(allowed: none\)")
    say(f"allowed_modules={allowed!r} and no {ALLOWED_MODULES_VARIABLE}: even tests.* is refused: {message[:80]}...")


def test_callbacks_are_checked_too(canary):
    module, marker = canary()
    data = serialized("tests.jobs.reliability.seed")
    data["callbacks"]["on_finished"] = [{**data["jobs"][0], "name": f"{module}.job_function", "identity": "2"}]
    assert_refused_before_import(data, module, marker, ["tests"], f"'{module}.job_function' is not in an allowed")


def serialized_with_args(name: str, args: list) -> dict:
    data = serialized(name)
    data["jobs"][0]["args"] = args
    return data


@pytest.mark.parametrize(
    "path, args, lives_in",
    [
        ("tests.jobs.reliability.os.system", ["echo hacked > /tmp/hymir-hacked"], "posix.system"),
        ("tests.jobs.reliability.json.loads", ["{}"], "json.loads"),
        ("tests.jobs.reliability.Path", ["/etc/passwd"], "pathlib.Path"),
        ("tests.jobs.reliability.step.__call__", ["token", 1], "hymir.job.JobFunction.__call__"),
        ("tests.jobs.reliability.log.info", ["message"], "logging.Logger.info"),
    ],
)
def test_attribute_path_out_of_an_allowed_module_is_refused(path, args, lives_in):
    """A name under an allowed prefix that walks, by attributes, to a function living elsewhere.

    The arguments fit the function, so nothing but the module check can refuse it.
    """
    with pytest.raises(InvalidWorkflow) as refused:
        Workflow.deserialize(json.dumps(serialized_with_args(path, args)), allowed_modules=["tests"])
    message = str(refused.value)
    assert f"job function '{lives_in}' is not in an allowed module (allowed: tests)" in message
    assert not Path("/tmp/hymir-hacked").exists()
    say(f"{path} -> {message[:120]}")


def test_attribute_path_is_refused_for_its_module_even_when_arguments_do_not_fit():
    with pytest.raises(InvalidWorkflow, match="is not in an allowed module"):
        Workflow.deserialize(json.dumps(serialized("tests.jobs.reliability.json.loads")), allowed_modules=["tests"])


def test_function_of_an_allowed_module_is_accepted():
    workflow = Workflow.deserialize(json.dumps(serialized("tests.jobs.reliability.seed")), allowed_modules=["tests"])
    assert workflow["1"].function is resolve_function("tests.jobs.reliability.seed")


def test_environment_variable_sets_the_allowed_prefixes(canary, monkeypatch):
    module, marker = canary()
    data = json.dumps(serialized(f"{module}.job_function"))
    monkeypatch.setenv(ALLOWED_MODULES_VARIABLE, "tests, hymir.examples")
    with pytest.raises(InvalidWorkflow, match=r"\(allowed: tests, hymir.examples\)"):
        Workflow.deserialize(data)
    assert not marker.exists() and module not in sys.modules
    assert Workflow.deserialize(json.dumps(serialized("tests.jobs.reliability.seed")))["1"].name.endswith("seed")
    # An explicit allowed_modules wins over the environment, in both directions.
    with pytest.raises(InvalidWorkflow, match=r"\(allowed: hymir.examples\)"):
        Workflow.deserialize(json.dumps(serialized("tests.jobs.reliability.seed")), allowed_modules=["hymir.examples"])
    monkeypatch.setenv(ALLOWED_MODULES_VARIABLE, f"{module}")
    assert Workflow.deserialize(data)["1"].function.__module__ == module and marker.exists()
    say(f"{ALLOWED_MODULES_VARIABLE} is honoured, and an explicit allowed_modules overrides it")


def test_a_single_string_is_not_taken_as_prefixes():
    """allowed_modules="tests" would otherwise allow "t", "e", "s": refuse it loudly."""
    with pytest.raises(TypeError, match="not a single string"):
        Workflow.deserialize(json.dumps(serialized("tests.jobs.reliability.seed")), allowed_modules="tests")


# --- 2. secrets masked in rendered fields and task logs ----------------------------------------------

SECRET_RUN = r'''
import os, sys
# Log the way a worker's task log does: through Airflow's structlog set-up, secrets masker included
# (dag.test runs the task in this process; without this, the console has no masker at all).
from airflow.sdk.log import configure_logging
configure_logging()

from airflow.models import Connection, Variable
from airflow.models.renderedtifields import RenderedTaskInstanceFields
from airflow.utils.session import create_session
from sqlalchemy import select

from hymir_airflow import workflow_to_dag
from hymir_airflow.backends.database import ensure_database
from hymir_airflow.compat import register_dag
from tests.jobs.reliability import secret_workflow

secret, password = sys.argv[1], sys.argv[2]
ensure_database()
Variable.set("api_key", secret)
with create_session() as session:
    session.add(Connection(conn_id="hymir_secret_api", conn_type="http", host="example.com", password=password))
dag = workflow_to_dag(secret_workflow(also_print=False), dag_id="hymir_secret")
register_dag(dag)
run = dag.test()
with create_session() as session:
    rendered = {row.task_id: row.rendered_fields for row in session.scalars(select(RenderedTaskInstanceFields))}
print(f"RUN-STATE {run.state}")
print(f"RENDERED {rendered}")
'''


def test_secrets_are_masked_in_rendered_fields_and_task_logs(tmp_path, capfd):
    """dag.test in a fresh Airflow home: the secret Variable and Connection never show, '***' does."""
    pytest.importorskip("airflow")
    secret, password = f"sk-{uuid.uuid4().hex}", f"pw-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    capfd.readouterr()
    done = subprocess.run([sys.executable, "-c", SECRET_RUN, secret, password], env=env, cwd=ROOT, timeout=300)
    out, err = capfd.readouterr()
    output = out + err
    assert done.returncode == 0, output[-3000:]
    assert "RUN-STATE success" in output
    rendered = next(line for line in output.splitlines() if line.startswith("RENDERED "))
    log_line = next(line for line in output.splitlines() if "the variable is" in line)
    say(f"task log line: {log_line.strip()}")
    say(f"rendered fields in the database: {rendered}")
    assert secret not in output and password not in output, "a secret reached the task log or rendered fields"
    assert "the variable is ***, the templated argument is ***, the password is ***" in log_line
    assert rendered == "RENDERED {'use_secret': {'job_args': ['***', False], 'job_kwargs': {}}}"


@pytest.mark.deployment
@pytest.mark.slow
def test_secrets_are_masked_in_a_deployments_task_log(distributed):
    """On a real deployment the worker's supervisor masks the task log, printed lines included."""
    import httpx

    from tests.deployment_fixtures import remote
    from tests.jobs import redaction as redaction_jobs

    secret, password = f"sk-{uuid.uuid4().hex}", f"pw-{uuid.uuid4().hex}"
    token = httpx.post(
        f"{distributed.api_url}/auth/token", json={"username": "admin", "password": distributed.password}, timeout=30
    ).json()["access_token"]
    api = httpx.Client(
        base_url=f"{distributed.api_url}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    for method, path, body in [
        ("DELETE", "/variables/api_key", None),
        ("POST", "/variables", {"key": "api_key", "value": secret}),
        ("DELETE", "/connections/hymir_secret_api", None),
        (
            "POST",
            "/connections",
            {"connection_id": "hymir_secret_api", "conn_type": "http", "host": "example.com", "password": password},
        ),
    ]:
        response = api.request(method, path, json=body)
        assert response.status_code < 300 or method == "DELETE", response.text

    executor = remote(distributed, unpause=True)
    executor.wait_for_dag("hymir_rel_secret", timeout=120)
    run_id = executor.run(jobs.secret_workflow(), dag_id="hymir_rel_secret")
    assert executor.wait(run_id, sleep=1, timeout=180).status.value == "success"
    base = f"/dags/hymir_rel_secret/dagRuns/{run_id}/taskInstances/use_secret"
    entries = api.get(f"{base}/logs/1", params={"full_content": True}).json()["content"]
    log = json.dumps(entries)
    rendered = api.get(base).json()["rendered_fields"]
    say(f"deployment task log lines: {[e['event'] for e in entries if 'variable' in str(e.get('event'))]}")
    say(f"rendered fields through the REST API: {rendered}")
    assert "printing the variable" in log and "the variable is" in log
    assert secret not in log and password not in log
    assert "printing the variable: ***; the templated argument: ***; the password: ***" in log
    assert secret not in json.dumps(rendered) and rendered["job_args"][0] == "***"

    # What Hymir records of jobs that put the secrets into an exception, a Failure value and a
    # context: the task state store (read through the REST API) and the Hymir page show neither.
    api.request("DELETE", f"/variables/{redaction_jobs.SECRET_VARIABLE}")
    assert api.post("/variables", json={"key": redaction_jobs.SECRET_VARIABLE, "value": secret}).status_code < 300
    executor.wait_for_dag("hymir_rel_leaks", timeout=120)
    run_id = executor.run(redaction_jobs.leaking_workflow(), dag_id="hymir_rel_leaks")
    assert executor.wait(run_id, sleep=1, timeout=180).status.value == "failure"
    states = executor.job_states(run_id)
    assert "postgresql://admin:***@db.example/orders" in states["1"].exception
    assert states["2"].result == {"tried_with": "***"}
    assert states["3"].result == len(password), "the job got the real password back at its next check"
    assert states["3"].context == {"cached_password": "***", "step": 1}
    stored = {
        task: api.get(f"/dags/hymir_rel_leaks/dagRuns/{run_id}/taskInstances/{task}/state-store").text
        for task in ("leak_in_exception", "leak_in_failure", "keep_connection_password_in_context")
    }
    say(f"state store through the REST API: {stored}")
    assert all("hymir" in text for text in stored.values())
    page = httpx.get(
        f"{distributed.api_url}/hymir/dags/hymir_rel_leaks/runs/{quote(run_id, safe='')}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert page.status_code == 200 and "***" in page.text
    for text in [*stored.values(), page.text]:
        assert secret not in text and password not in text
