"""Benchmark: how long a Retry and a CheckLater really wait on the installed Airflow, under ``dag.test()``.

A job asks for two retries of exactly ``--delay`` seconds; another asks to be checked again twice,
``--delay`` seconds apart. Each call records its wall-clock time, so the gaps between calls are
what a user waits; the figure is the gap minus the asked delay (Airflow's own overhead), median
and min–max over the repetitions. Run it in every Airflow venv to compare versions (Airflow 3.3
waits a Retry through a retry policy, 3.0–3.2 through the operator's own reschedule).

Run: ``.venv-airflow-3.0/bin/python benchmarks/version_timings.py [--delay 2] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from itertools import pairwise
from pathlib import Path

from harness import use_private_airflow_home

use_private_airflow_home()

import airflow  # noqa: E402

from hymir import Group, JobStatus, Workflow  # noqa: E402
from hymir_airflow import AirflowExecutor  # noqa: E402

from timing_jobs import check_twice, retry_twice  # noqa: E402


def gaps(path: Path) -> list[float]:
    times = [float(line) for line in path.read_text().split()]
    return [later - earlier for earlier, later in pairwise(times)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=2.0, help="seconds each Retry and CheckLater asks for")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the workflow")
    args = parser.parse_args()
    executor = AirflowExecutor()
    measured: dict[str, list[float]] = {"Retry": [], "CheckLater": []}
    for _ in range(args.repeat):
        folder = Path(tempfile.mkdtemp(prefix="hymir-timings-"))
        workflow = Workflow(
            Group(
                retry_twice(path=str(folder / "retry"), delay=args.delay),
                check_twice(path=str(folder / "check"), wait=args.delay),
            )
        )
        run_id = executor.run(workflow)
        states = executor.job_states(run_id)
        assert all(state.status is JobStatus.SUCCESS for state in states.values()), states
        measured["Retry"] += [gap - args.delay for gap in gaps(folder / "retry")]
        measured["CheckLater"] += [gap - args.delay for gap in gaps(folder / "check")]
    print(f"Airflow {airflow.__version__}: wait beyond the asked {args.delay:g} s, over {args.repeat} runs")
    print("| result | waits | extra wait, median | min–max |")
    print("|---|---|---|---|")
    for kind, extra in measured.items():
        print(f"| {kind} | {len(extra)} | {statistics.median(extra):.2f} s | {min(extra):.2f}–{max(extra):.2f} s |")


if __name__ == "__main__":
    main()
