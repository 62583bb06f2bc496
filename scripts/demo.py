"""The README's run command: start a real Airflow on SQLite, run the README example, print its outcome.

Run it through ./scripts/demo, which prepares the virtual environment first.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from hymir.examples.words import words_workflow
from hymir_airflow import AirflowExecutor
from hymir_airflow.launcher import DeploymentError, LocalDeployment

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / "airflow-home"
PIDS = HOME / "running.json"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def stop_previous() -> None:
    """Stop a deployment left running by ``--keep-running``."""
    if not PIDS.exists():
        say("no Airflow left running by the demo")
        return
    for name, pid in json.loads(PIDS.read_text()).items():
        try:
            os.killpg(pid, signal.SIGTERM)
            say(f"stopped {name} (process group {pid})")
        except ProcessLookupError:
            pass
    PIDS.unlink()


def print_outcome(executor: AirflowExecutor, run_id: str) -> None:
    workflow = executor.workflow(run_id)
    states = executor.job_states(run_id)
    print(f"\n{'job':<4} {'function':<32} {'status':<8} {'retries':<7} result")
    for job_id, state in states.items():
        shown = state.result if state.exception is None else state.exception.strip().splitlines()[-1]
        print(f"{job_id:<4} {workflow[job_id].name:<32} {state.status.value:<8} {state.retries:<7} {shown!r}")
    print(f"\nworkflow: {executor.workflow_state(run_id).status.value}")
    print(f"outputs:  {executor.outputs(run_id)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080, help="port of the Airflow UI and API (default 8080)")
    parser.add_argument("--keep-running", action="store_true", help="leave Airflow running to explore the UI")
    parser.add_argument("--stop", action="store_true", help="stop an Airflow left running by --keep-running")
    args = parser.parse_args()
    if args.stop:
        stop_previous()
        return 0

    deployment = LocalDeployment(home=HOME, dags_folder=ROOT / "dags", port=args.port)
    say(f"starting Airflow in {HOME} (SQLite, LocalExecutor, parallelism {deployment.parallelism})")
    try:
        deployment.start(report=say)
    except DeploymentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        executor = AirflowExecutor(
            api_url=deployment.api_url, username="admin", password=deployment.password, unpause=True
        )
        say("waiting for the dag-processor to load dags/")
        executor.wait_for_dag("hymir_words", timeout=120)
        run_id = executor.run(words_workflow(), dag_id="hymir_words")
        say(f"triggered hymir_words: run {run_id}")
        started = time.monotonic()
        while not executor.workflow_state(run_id).is_finished:
            deployment.check_running()
            if time.monotonic() - started > 300:
                raise DeploymentError(f"the run did not finish within 300 s; read the logs in {deployment.log_folder}")
            finished, total = executor.progress(run_id)
            say(f"{finished}/{total} jobs finished ({time.monotonic() - started:.0f} s)")
            time.sleep(2)
        print_outcome(executor, run_id)
        succeeded = executor.workflow_state(run_id).status.value == "success"
    except Exception as error:
        print(f"error: {error}", file=sys.stderr)
        deployment.stop(report=say)
        return 1
    if args.keep_running:
        PIDS.write_text(json.dumps({name: p.pid for name, p in deployment.processes.items()}))
        print(f"\nAirflow keeps running: open {deployment.api_url} and log in as admin / {deployment.password}")
        print("stop it with: ./scripts/demo --stop")
    else:
        deployment.stop(report=say)
    return 0 if succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
