"""Worker parse: the cost of a DAG file for one task, Hymir beside hand-written operators, at 10 to 10,000 jobs.

Before every task it runs, a worker executes the task's DAG file again, with Airflow's parsing
context naming the DAG and the task (``airflow.sdk.get_parsing_context()``). Each measurement is
a fresh process, as a worker's is: it imports Airflow, the operators and Hymir first (what the
worker has loaded anyway), then times (CPU time) what the DAG file does: the Hymir side builds
the ``Workflow`` (a Chain of Groups of 10 jobs) and calls ``workflow_to_dag``, which builds only
the named task; the hand-written side builds the same graph with ``PythonOperator`` inside
``with DAG(...)``, as DAG files usually do, whatever task is named. The sides take turns.
Targets: Hymir's parse grows at most x3 from 10 to 5,000 jobs and is at most 0.05 x the
hand-written one at 5,000.

Run: ``.venv/bin/python benchmarks/worker_parse.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness import ROOT, Row, Spread, interleave, number, parse_args, progress, ratio_row, report

SIZES = (10, 1_000, 5_000, 10_000)
QUICK_SIZES = (10, 1_000, 5_000)
RATIO_TARGET = 0.05
GROWTH_TARGET = 3.0
HERE = Path(__file__).resolve().parent

CHILD = """
import sys, time
sys.path[:0] = [{here!r}, {root!r}]
import build  # the imports (Airflow, PythonOperator, Hymir) and the two builders
side, size = sys.argv[1], int(sys.argv[2])
started = time.process_time()
dag = build.build_hymir("groups", size) if side == "hymir" else build.build_airflow("groups", size)
elapsed = time.process_time() - started
print(elapsed, len(dag.task_dict))
"""


def measure(side: str, size: int) -> float:
    """One worker parse in a fresh process: the CPU seconds the DAG file takes for one named task."""
    dag_id = f"{side}_groups_{size}"
    task_id = f"uppercase_{size}" if side == "hymir" else f"uppercase_{size // 10 - 1}_9"
    env = {**os.environ, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": dag_id, "_AIRFLOW_PARSING_CONTEXT_TASK_ID": task_id}
    code = CHILD.format(here=str(HERE), root=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code, side, str(size)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {side} parse of {size} jobs failed:\n{done.stderr[-2000:]}")
    elapsed, tasks = done.stdout.split()[-2:]
    expected = 1 if side == "hymir" else size
    if int(tasks) != expected:
        raise RuntimeError(f"the {side} parse of {size} jobs built {tasks} tasks, not {expected}")
    return float(elapsed)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_repeat=5, quick_repeat=2)
    sizes = QUICK_SIZES if args.quick else SIZES
    rows: list[Row] = []
    medians: dict[int, float] = {}
    for size in sizes:
        repeat = args.repeat if size < 10_000 else max(2, args.repeat - 2)
        progress(f"worker_parse: {size} jobs, {repeat} fresh processes each side")
        figures = interleave(
            {side: (lambda side=side, size=size: measure(side, size)) for side in ("hymir", "airflow")}, repeat
        )
        hymir, airflow = Spread.of(figures["hymir"]), Spread.of(figures["airflow"])
        medians[size] = hymir.median
        limit = RATIO_TARGET if size >= 5_000 else 1.0
        rows.append(ratio_row("worker_parse", f"one task of {size:,} jobs", hymir, airflow, "s", limit))
    growth = medians[5_000] / medians[10]
    rows.append(
        Row(
            "worker_parse",
            "growth 10→5,000 jobs",
            f"{number(medians[10] * 1e3)} → {number(medians[5_000] * 1e3)} ms (×{growth:.1f})",
            "",
            f"×{growth:.1f}",
            f"<= ×{GROWTH_TARGET:g}",
            growth <= GROWTH_TARGET,
        )
    )
    report(rows, args.json)


if __name__ == "__main__":
    main()
