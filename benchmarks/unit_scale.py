"""Units on a deployment: a Chain of N quick jobs run as one Unit against the same jobs as separate tasks.

Each of two DAGs runs a Chain of ``--jobs`` (N, 100) jobs that return at once
(``unit_jobs.py`` builds them): one task per job, and the same Chain as ``Unit(Chain(...))``,
one task. A fresh embedded deployment (``hymir_airflow.launcher.LocalDeployment``: SQLite,
LocalExecutor, scheduler, api-server, dag-processor and triggerer) starts in a temporary home
with both DAG files and a warm-up file of one-job DAGs of each kind, which run once, unmeasured.
Then the two DAGs take turns (A B, B A, ...), one run at a time, ``--repeats`` (2) runs each;
the figure is the wall time of each run, from its start to its end as Airflow stamps them,
median (min–max). Every run must succeed.

Target: unit / separate tasks <= 0.2 of the wall time. ``--quick`` runs 20 jobs once each (about
two minutes); the full scale takes about 10 minutes on 2 cores.

Run: ``.venv/bin/python benchmarks/unit_scale.py [--quick] [--jobs N] [--repeats R] [--json FILE]``;
``run_all.py`` runs it only when asked (``--only unit_scale``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hymir_airflow.launcher import LocalDeployment, free_port

from deployment_api import POLL, Api, finish, timestamp
from harness import ROOT, Spread, interleave, progress, ratio_row, report

HERE = Path(__file__).resolve().parent

#: The DAGs compared, by id, and what builds each in its DAG file.
DAGS = {"unit_scale_separate": "separate_dag", "unit_scale_unit": "unit_dag"}
DAG_FILE = '''"""Airflow {what} of benchmarks/unit_scale.py."""
from unit_jobs import separate_dag, unit_dag

{dags}
'''
TARGET = 0.2


class TimedRuns:
    """Runs one DAG once per call and returns the run's wall time (failing on a run that did not succeed)."""

    def __init__(self, deployment: LocalDeployment, api: Api, dag_id: str, timeout: float):
        self.deployment, self.api, self.dag_id, self.timeout = deployment, api, dag_id, timeout

    def __call__(self) -> float:
        run_id = self.api.trigger(self.dag_id)
        run = finish(self.deployment, self.api, self.dag_id, run_id, self.timeout)
        if run["state"] != "success":
            raise RuntimeError(f"run {run_id} of {self.dag_id} ended {run['state']}; read {self.deployment.log_folder}")
        wall = (timestamp(run["end_date"]) - timestamp(run["start_date"])).total_seconds()
        progress(f"unit_scale: {self.dag_id} in {wall:.1f} s")
        time.sleep(POLL)  # let the last task processes exit before the next run
        return wall


def write_dag_files(dags: Path, jobs: int) -> list[str]:
    """One file per DAG compared and one of one-job warm-up DAGs; returns the warm-up DAGs' ids."""
    for dag_id, builder in DAGS.items():
        (dags / f"{dag_id}.py").write_text(DAG_FILE.format(what="DAG", dags=f"dag = {builder}({dag_id!r}, {jobs})"))
    warmups = {dag_id.replace("unit_scale_", "unit_scale_warmup_"): builder for dag_id, builder in DAGS.items()}
    lines = [f"dag_{n} = {builder}({dag_id!r}, 1)" for n, (dag_id, builder) in enumerate(warmups.items())]
    (dags / "unit_scale_warmup.py").write_text(DAG_FILE.format(what="warm-up DAGs", dags="\n".join(lines)))
    return list(warmups)


def measure(jobs: int, repeats: int, timeout: float) -> dict[str, list[float]]:
    """Start a deployment, run each DAG ``repeats`` times in turns, and stop it again."""
    with tempfile.TemporaryDirectory(prefix="hymir-units-", ignore_cleanup_errors=True) as folder:
        dags = Path(folder) / "dags"
        dags.mkdir()
        warmups = write_dag_files(dags, jobs)
        deployment = LocalDeployment(
            home=Path(folder) / "airflow", dags_folder=dags, port=free_port(), python_path=[HERE, ROOT]
        )
        progress(f"unit_scale: starting a deployment in {folder}")
        try:
            deployment.start(report=lambda message: progress(f"unit_scale: {message}"))
            api = Api(deployment)
            api.wait_for_dags([*DAGS, *warmups], timeout=300)
            for dag_id in warmups:
                TimedRuns(deployment, api, dag_id, timeout)()
            runs = {dag_id: TimedRuns(deployment, api, dag_id, timeout) for dag_id in DAGS}
            return interleave(dict(runs), repeats)
        finally:
            deployment.stop(report=lambda message: progress(f"unit_scale: {message}"))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 jobs, 1 repeat")
    parser.add_argument("--jobs", type=int, help="jobs in the Chain (default 100)")
    parser.add_argument("--repeats", type=int, help="runs of each DAG (default 2)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one run may take (default 1800)")
    parser.add_argument("--json", type=Path, help="also write the result rows to this file (used by run_all.py)")
    args = parser.parse_args()
    args.jobs = args.jobs or (20 if args.quick else 100)
    args.repeats = args.repeats or (1 if args.quick else 2)
    return args


def main() -> None:
    args = parse_args()
    walls = measure(args.jobs, args.repeats, args.timeout)
    row = ratio_row(
        "unit_scale",
        f"Chain of {args.jobs} quick jobs end to end on the embedded deployment: one Unit / one task per job",
        Spread.of(walls["unit_scale_unit"]),
        Spread.of(walls["unit_scale_separate"]),
        "s",
        TARGET,
    )
    report([row], args.json)


if __name__ == "__main__":
    main()
