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
``producers >> consumer``). Targets: Hymir / Airflow <= 1.0 at every size (medians), and
growth from 1,000 to 10,000 jobs no worse than linear: time per job at 10,000 at most 1.2 x
that at 1,000 (the 20 % allow for noise). Growth is measured in pairs: before each build of
10,000 jobs, the same process builds the DAG of 1,000 jobs, and the figure is the median of
those pairs' ratios (the time a shared machine gives a process drifts over minutes).

Each side builds in a process of its own, forked after the imports, and the two take turns.
Building a DAG is single-threaded work without I/O, so its time is measured as CPU time of
that process (``time.process_time``): on an idle machine that is the wall time, and on a shared
one other processes disturb it far less than they disturb the wall clock. After warming up,
each process freezes its heap (``gc.freeze()``) as Airflow's dag-processor does before it forks
the processes that parse DAG files; without that, CPython's full collections also walk the
~340,000 objects of the imports, which adds 20-30 % per job once a build makes enough objects to
trigger them (from a few thousand jobs on, on both sides). Builds of 100 jobs take
milliseconds and vary most, so the sizes get 4 x, 2 x and ``--repeat`` - 2 (at least 2) turns.

Run: ``.venv/bin/python benchmarks/build.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import gc
import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

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
RATIO_TARGET = 1.0
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


class Side:
    """One side's builds, in a process of its own (forked after the imports), one build per call.

    Each side has its own heap, so neither side's garbage or heap layout slows the other down,
    while the parent still alternates between the two. The worker warms up (first builds pay
    one-off costs that a figure per job should not carry), then freezes its heap as Airflow's
    dag-processor does before it forks the processes that parse DAG files.
    """

    def __init__(self, build: Callable[[str, int], DAG]):
        self._connection, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("fork").Process(target=self._serve, args=(build, child))
        self._process.start()
        #: Per-job time at the large size over that at the reference size, one per paired call.
        self.growths: list[float] = []

    @staticmethod
    def _serve(build: Callable[[str, int], DAG], connection: Connection) -> None:
        for shape in SHAPES:
            build(shape, GROUP_SIZE)
        gc.collect()
        gc.freeze()
        while (case := connection.recv()) is not None:
            shape, sizes = case
            connection.send([Side._build_once(build, shape, size) for size in sizes])

    @staticmethod
    def _build_once(build: Callable[[str, int], DAG], shape: str, size: int) -> float:
        gc.collect()
        started = time.process_time()
        dag = build(shape, size)
        elapsed = time.process_time() - started
        assert len(dag.task_dict) == size
        return elapsed

    def timed(self, shape: str, size: int, reference: int | None = None) -> Callable[[], float]:
        """A call that has the worker build the DAG once and returns the CPU time that took.

        With a ``reference`` size, the worker first builds the DAG at that size too, and the
        growth of the time per job from there goes to ``growths``: measured seconds apart, the
        two builds see the same machine, which builds minutes apart on a shared one do not.
        """

        def run() -> float:
            self._connection.send((shape, [size] if reference is None else [reference, size]))
            *before, elapsed = self._connection.recv()
            if before:
                self.growths.append((elapsed / size) / (before[0] / reference))
            return elapsed

        return run

    def stop(self) -> None:
        self._connection.send(None)
        self._process.join()


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_repeat=5, quick_repeat=2)
    sides = {"hymir": Side(build_hymir), "airflow": Side(build_airflow)}
    rows: list[Row] = []
    for shape in SHAPES:
        for size in SIZES:
            repeat = repetitions(size, args.repeat)
            reference = 1_000 if size == 10_000 else None
            progress(f"build: {shape} of {size} jobs, {repeat} x each side")
            for side in sides.values():
                side.growths.clear()
            figures = interleave({name: side.timed(shape, size, reference) for name, side in sides.items()}, repeat)
            hymir, airflow = Spread.of(figures["hymir"]), Spread.of(figures["airflow"])
            notes = tuple(f"{number(spread.median * 1e6 / size)} µs/job" for spread in (hymir, airflow))
            rows.append(ratio_row("build", f"{shape}, {size:,} jobs", hymir, airflow, "s", RATIO_TARGET, notes))
        rows.append(growth_row(shape, {name: Spread.of(side.growths) for name, side in sides.items()}))
    for side in sides.values():
        side.stop()
    report(rows, args.json)


def repetitions(size: int, repeat: int) -> int:
    """More turns for small DAGs, whose builds take milliseconds and vary most; fewer for 10,000 jobs."""
    if size <= 100:
        return 4 * repeat
    if size <= 1_000:
        return 2 * repeat
    return max(2, repeat - 2)


def growth_row(shape: str, growths: dict[str, Spread]) -> Row:
    """Time per job at 10,000 jobs over time per job at 1,000 (1.0 is linear growth), per side."""
    hymir = growths["hymir"]
    return Row(
        "build",
        f"{shape}, growth 1k→10k",
        *(f"×{spread.median:.2f} (×{spread.low:.2f}–{spread.high:.2f})" for spread in growths.values()),
        f"per-job ×{hymir.median:.2f}",
        f"<= {GROWTH_TARGET} (linear)",
        hymir.median <= GROWTH_TARGET,
    )


if __name__ == "__main__":
    main()
