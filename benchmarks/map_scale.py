"""Benchmark: a job mapped over 1,000 items, Hymir's Map against the same TaskFlow ``expand``.

The workflow is the fan-out example (``hymir.examples.fanout``) without its ``max_active``: a job
lists ``--items`` files (1,000 by default), a ``Map`` measures each file, one job sums the sizes.
The TaskFlow DAG does the same with three ``@task`` functions, ``measure.expand(file=...)`` in
the middle. Two figures, each side in turns:

* build: CPU time of building the DAG (the ``Workflow`` and ``workflow_to_dag`` against the
  TaskFlow DAG), 20 builds per measure; a mapped DAG has three tasks whatever the item count;
* run: wall time of ``dag.test()`` (its CPU time as a note) on a private SQLite metadata
  database, where Airflow expands the middle task into one task instance per item. The first
  run of each side only warms up; every run must end in success.

Targets: Hymir / TaskFlow <= 1.1 for both. Opt-in in ``run_all.py`` (``--only map_scale``):
a run of 1,000 items takes minutes per side.

Run: ``.venv/bin/python benchmarks/map_scale.py [--quick] [--repeat N] [--items N]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from harness import (
    Spread,
    TimedTest,
    interleave,
    parse_args,
    progress,
    ratio_row,
    report,
    timed_tests_row,
    use_private_airflow_home,
)

use_private_airflow_home()

from airflow.sdk import DAG, task  # noqa: E402

from hymir import Chain, Map, Workflow  # noqa: E402
from hymir.examples.fanout import list_files, measure, summarize  # noqa: E402
from hymir_airflow import workflow_to_dag  # noqa: E402
from hymir_airflow.backends.database import ensure_database  # noqa: E402
from hymir_airflow.compat import register_dag  # noqa: E402

TARGET = 1.10
BUILDS_PER_MEASURE = 20
BATCH = "bench"


def hymir_dag(items: int) -> DAG:
    workflow = Workflow(
        Chain(list_files(), Map(measure(), over=("files", "file")), summarize()),
        params={"batch": BATCH, "count": items},
    )
    return workflow_to_dag(workflow, dag_id="bench_map_hymir")


@task
def files_of(batch: str, count: int) -> list[str]:
    return list_files.function(batch, count).result


@task
def size_of(file: str) -> int:
    return measure.function(file).result


@task
def total(sizes: list[int]) -> dict:
    return summarize.function(list(sizes)).result


def taskflow_dag(items: int) -> DAG:
    with DAG(dag_id="bench_map_taskflow", schedule=None) as dag:
        total(size_of.expand(file=files_of(BATCH, items)))
    return dag


def timed_builds(build: Callable[[int], DAG], items: int) -> Callable[[], float]:
    """A call that builds the DAG ``BUILDS_PER_MEASURE`` times and returns the CPU time per build."""

    def run() -> float:
        started = time.process_time()
        for _ in range(BUILDS_PER_MEASURE):
            build(items)
        return (time.process_time() - started) / BUILDS_PER_MEASURE

    return run


def item_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--items", type=int, help="items the Map runs over (default 1,000, quick 100)")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_repeat=3, quick_repeat=1, add_options=item_option)
    items = args.items or (100 if args.quick else 1_000)
    builders = {"hymir": hymir_dag, "airflow": taskflow_dag}

    progress(f"map_scale: build, {8 * args.repeat} x {BUILDS_PER_MEASURE} builds each side")
    builds = interleave({side: timed_builds(build, items) for side, build in builders.items()}, 8 * args.repeat)
    hymir, airflow = Spread.of(builds["hymir"]), Spread.of(builds["airflow"])
    rows = [
        ratio_row("map_scale", f"build, Map over {items:,} items", hymir.scaled(1e3), airflow.scaled(1e3), "ms", TARGET)
    ]

    ensure_database()
    dags = {side: build(items) for side, build in builders.items()}
    for side, dag in dags.items():
        register_dag(dag)
        progress(f"map_scale: warm-up dag.test() of {side}, {items:,} items")
        TimedTest(dag)()
    progress(f"map_scale: dag.test() of {items:,} mapped items, {args.repeat} x each side")
    rows.append(timed_tests_row("map_scale", f"dag.test(), Map over {items:,} items", dags, args.repeat, TARGET))
    report(rows, args.json)


if __name__ == "__main__":
    main()
