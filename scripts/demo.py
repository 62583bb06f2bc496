"""The README's run command: start a real Airflow on SQLite, run a Hymir DAG end to end, print its outcome.

Run it through ./scripts/demo, which prepares the virtual environment first. By default it runs
the README example (``hymir_words`` from ``dags/``); ``--dags``, ``--jobs`` and ``--dag`` run your
own workflow instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from hymir.workflow import Workflow
from hymir_airflow import AirflowDeploymentExecutor
from hymir_airflow.compat import dag_bag
from hymir_airflow.factory import built_workflow
from hymir_airflow.launcher import DeploymentError, LocalDeployment, stop_detached

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / "airflow-home"
PIDS = HOME / "running.json"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def workflow_of(dag_id: str, dags_folder: Path) -> Workflow:
    """Load the DAG files as the dag-processor will, and return the workflow behind ``dag_id``."""
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    bag = dag_bag(str(dags_folder))
    if dag_id not in bag.dags:
        errors = "".join(f"\n{path}:\n{error}" for path, error in bag.import_errors.items())
        raise DeploymentError(f"no DAG {dag_id!r} in {dags_folder}" + (f"; import errors:{errors}" if errors else ""))
    try:
        return built_workflow(dag_id)
    except KeyError:
        raise DeploymentError(
            f"the DAG {dag_id!r} in {dags_folder} is not a Hymir DAG (made by workflow_to_dag)"
        ) from None


def print_outcome(executor: AirflowDeploymentExecutor, run_id: str) -> None:
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
    parser.add_argument(
        "--stop", action="store_true", help="stop an Airflow left running by --keep-running (returns once it exited)"
    )
    parser.add_argument("--dags", type=Path, default=ROOT / "dags", help="the DAGs folder (default: dags/)")
    parser.add_argument(
        "--jobs",
        type=Path,
        action="append",
        default=[],
        metavar="FOLDER",
        help="a folder your DAG files import job modules from (repeatable; job modules in the DAGs folder import too)",
    )
    parser.add_argument("--dag", default="hymir_words", help="the Hymir DAG to run (default: hymir_words)")
    args = parser.parse_args()
    if args.stop:
        if not stop_detached(PIDS, report=say):
            say("no Airflow left running by the demo")
        return 0

    jobs = [folder.resolve() for folder in args.jobs]
    # Where Airflow's components import from: the job folders and, as Airflow adds it, the DAGs folder.
    sys.path[:0] = [str(folder) for folder in [*jobs, args.dags.resolve()]]
    try:
        workflow = workflow_of(args.dag, args.dags.resolve())
    except DeploymentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    deployment = LocalDeployment(home=HOME, dags_folder=args.dags.resolve(), port=args.port, python_path=jobs)
    say(f"starting Airflow in {HOME} (SQLite, LocalExecutor, parallelism {deployment.parallelism})")
    try:
        deployment.start(report=say)
    except DeploymentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        executor = AirflowDeploymentExecutor(
            deployment.api_url, username="admin", password=deployment.password, unpause=True
        )
        say(f"waiting for the dag-processor to load {args.dags}")
        executor.wait_for_dag(args.dag, timeout=120)
        run_id = executor.run(workflow, dag_id=args.dag)
        say(f"triggered {args.dag}: run {run_id}")
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
        deployment.detach(PIDS)
        print(f"\nAirflow keeps running: open {deployment.api_url} and log in as admin / {deployment.password}")
        print("stop it with: ./scripts/demo --stop")
    else:
        deployment.stop(report=say)
    return 0 if succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
