"""Benchmark: the time a DAG file spends building its DAG, Hymir against hand-written Airflow.

Three shapes at 100, 1,000 and 10,000 jobs:

* ``chain``: one long Chain of jobs;
* ``groups``: a Chain of Groups of 10 jobs (every job of a group waits for every job of the
  group before; each group is a TaskGroup on both sides);
* ``fanin``: a Group of n - 1 producers of one output, then one consumer taking them all as
  ``list[...]``.

The Hymir side builds the ``Workflow`` and calls ``workflow_to_dag`` (what a drop-in DAG file
pays); the Airflow side builds the same tasks, edges and TaskGroups with ``PythonOperator``
inside ``with DAG(...)``, written the way a person would (``a >> b``, ``group >> group``,
``producers >> consumer``). Targets: Hymir / Airflow <= 1.3 at every size, and growth from
1,000 to 10,000 jobs no worse than linear (time per job at 10,000 at most 1.2 x the time per
job at 1,000; the 20 % allow for noise).

Building a DAG is single-threaded work without I/O, so its time is measured as CPU time of
the process (``time.process_time``): on an idle machine that is the wall time, and on a shared
one other processes disturb it far less than they disturb the wall clock. After the imports,
the heap is frozen (``gc.freeze()``) as in Airflow's dag-processor; without that, CPython's full
collections walk the ~340,000 objects of the imports too, which adds about 20-30 % per job once
a build makes enough objects to trigger them (from a few thousand jobs on, on both sides).

Run: ``.venv/bin/python benchmarks/build.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import gc
import time
from typing import Callable

from harness import Row, Spread, interleave, number, parse_args, progress, ratio_row, report, use_private_airflow_home

use_private_airflow_home()

from airflow.providers.standard.operators.python import PythonOperator  # noqa: E402
from airflow.sdk import DAG, TaskGroup  # noqa: E402

from hymir import Chain, Group, Workflow  # noqa: E402
from hymir.examples.words import count, uppercase  # noqa: E402
from hymir_airflow import workflow_to_dag  # noqa: E402

SHAPES = ("chain", "groups", "fanin")
SIZES = (100, 1_000, 10_000)
GROUP_SIZE = 10
RATIO_TARGET = 1.3
GROWTH_TARGET = 1.2


def hymir_workflow(shape: str, size: int) -> Workflow:
    """The workflow of ``size`` jobs in the given shape."""
    if shape == "chain":
        return Workflow(Chain(*(uppercase("word") for _ in range(size))))
    if shape == "groups":
        groups = [Group(*(uppercase("word") for _ in range(GROUP_SIZE))) for _ in range(size // GROUP_SIZE)]
        return Workflow(Chain(*groups))
    return Workflow(Chain(Group(*(uppercase("word") for _ in range(size - 1))), count()))


def build_hymir(shape: str, size: int) -> DAG:
    return workflow_to_dag(hymir_workflow(shape, size), dag_id=f"hymir_{shape}_{size}")


def _python_task(task_id: str, function: Callable, *args: object) -> PythonOperator:
    return PythonOperator(task_id=task_id, python_callable=function, op_args=list(args))


def build_airflow(shape: str, size: int) -> DAG:
    """The same graph written by hand with PythonOperator."""
    with DAG(dag_id=f"airflow_{shape}_{size}", schedule=None) as dag:
        if shape == "chain":
            previous = None
            for index in range(size):
                task = _python_task(f"uppercase_{index}", uppercase.function, "word")
                if previous is not None:
                    previous >> task
                previous = task
        elif shape == "groups":
            previous_group = None
            for group_index in range(size // GROUP_SIZE):
                with TaskGroup(group_id=f"group_{group_index}", prefix_group_id=False) as group:
                    for index in range(GROUP_SIZE):
                        _python_task(f"uppercase_{group_index}_{index}", uppercase.function, "word")
                if previous_group is not None:
                    previous_group >> group
                previous_group = group
        else:
            with TaskGroup(group_id="group_1", prefix_group_id=False):
                producers = [_python_task(f"uppercase_{i}", uppercase.function, "word") for i in range(size - 1)]
            producers >> _python_task("count", count.function)
    return dag


def timed(build: Callable[[str, int], DAG], shape: str, size: int) -> Callable[[], float]:
    """Builds the DAG once per call and returns the CPU time that took."""

    def run() -> float:
        started = time.process_time()
        dag = build(shape, size)
        elapsed = time.process_time() - started
        assert len(dag.task_dict) == size
        return elapsed

    return run


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_repeat=5, quick_repeat=2)
    rows: list[Row] = []
    for shape in SHAPES:
        # First builds pay one-off costs (imports, caches) that a figure per job should not carry.
        build_hymir(shape, GROUP_SIZE)
        build_airflow(shape, GROUP_SIZE)
    # As Airflow's dag-processor does before it forks the processes that parse DAG files (and the
    # executors before they fork workers): the objects of the imports move out of the garbage
    # collector's sight, so that its full collections walk only what a DAG file makes.
    gc.collect()
    gc.freeze()
    for shape in SHAPES:
        per_job: dict[int, dict[str, Spread]] = {}
        for size in SIZES:
            repeat = args.repeat if size < 10_000 else max(1, args.repeat // 2)
            progress(f"build: {shape} of {size} jobs, {repeat} x each side")
            figures = interleave(
                {"hymir": timed(build_hymir, shape, size), "airflow": timed(build_airflow, shape, size)}, repeat
            )
            hymir, airflow = Spread.of(figures["hymir"]), Spread.of(figures["airflow"])
            per_job[size] = {"hymir": hymir.scaled(1e6 / size), "airflow": airflow.scaled(1e6 / size)}
            notes = tuple(f"{number(per_job[size][side].median)} µs/job" for side in ("hymir", "airflow"))
            rows.append(ratio_row("build", f"{shape}, {size:,} jobs", hymir, airflow, "s", RATIO_TARGET, notes))
        rows.append(growth_row(shape, per_job[1_000], per_job[10_000]))
    report(rows, args.json)


def growth_row(shape: str, small: dict[str, Spread], large: dict[str, Spread]) -> Row:
    """Time per job at 10,000 over time per job at 1,000: 1.0 is linear growth."""
    hymir = large["hymir"].median / small["hymir"].median
    airflow = large["airflow"].median / small["airflow"].median
    return Row(
        "build",
        f"{shape}, growth 1k→10k",
        f"{number(small['hymir'].median)} → {number(large['hymir'].median)} µs/job (×{hymir:.2f})",
        f"{number(small['airflow'].median)} → {number(large['airflow'].median)} µs/job (×{airflow:.2f})",
        f"per-job ×{hymir:.2f}",
        f"<= {GROWTH_TARGET} (linear)",
        hymir <= GROWTH_TARGET,
    )


if __name__ == "__main__":
    main()
