"""Benchmark: peak memory of parsing a 10,000-job DAG file, Hymir against the hand-written DAG file.

Each side is a DAG file with a Chain of 10,000 jobs: the Hymir file builds the Workflow and
calls ``workflow_to_dag``; the hand-written file links 10,000 ``PythonOperator`` tasks with
``>>``. Every measurement is a fresh interpreter (on a private AIRFLOW_HOME) that loads the file
with ``DagBag``, as the dag-processor does, and reports its RSS high-water mark
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``). A third interpreter imports what both files
import without building anything, so the table also shows what the DAG itself adds. Target:
Hymir / hand-written peak RSS <= 1.0.

Run: ``.venv/bin/python benchmarks/memory.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness import Spread, interleave, parse_args, progress, ratio_row, report, use_private_airflow_home

JOBS = 10_000
QUICK_JOBS = 3_000
TARGET = 1.0

HYMIR_FILE = '''"""Benchmark DAG file (airflow dag): a Chain of {jobs} Hymir jobs."""
from hymir import Chain, Workflow
from hymir.examples.words import uppercase
from hymir_airflow import workflow_to_dag

dag = workflow_to_dag(Workflow(Chain(*(uppercase("word") for _ in range({jobs})))), dag_id="bench_memory_hymir")
'''

AIRFLOW_FILE = '''"""Benchmark DAG file (airflow dag): a chain of {jobs} PythonOperator tasks."""
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG


def uppercase(word):
    return word.upper()


with DAG(dag_id="bench_memory_airflow", schedule=None) as dag:
    previous = None
    for index in range({jobs}):
        task = PythonOperator(task_id=f"uppercase_{{index}}", python_callable=uppercase, op_args=["word"])
        if previous is not None:
            previous >> task
        previous = task
'''

#: What both DAG files import, and nothing built: the floor under both figures.
IMPORTS_ONLY = '''"""Benchmark baseline (airflow dag): the imports of both DAG files, no DAG."""
import airflow.providers.standard.operators.python
import airflow.sdk
import hymir.examples.words
import hymir_airflow.factory
'''

#: Runs in the fresh interpreter: load one DAG file as the dag-processor would, report peak RSS.
MEASURE = """
import json, resource, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
tasks = sum(len(dag.task_dict) for dag in bag.dags.values())
print(json.dumps({"tasks": tasks, "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def peak_rss(dag_file: Path, tasks: int) -> Callable[[], float]:
    """Measures the peak RSS (MB) of a fresh interpreter loading ``dag_file`` with DagBag."""

    def measure() -> float:
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, str(dag_file)], capture_output=True, text=True, check=True
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["tasks"] == tasks, f"{dag_file.name} gave {result['tasks']} tasks"
        return result["max_rss_kb"] / 1024

    return measure


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_repeat=2, quick_repeat=1)
    jobs = QUICK_JOBS if args.quick else JOBS
    use_private_airflow_home()  # inherited by the measuring interpreters
    folder = Path(tempfile.mkdtemp(prefix="hymir-bench-memory-"))
    files = {}
    for side, template in (("hymir", HYMIR_FILE), ("airflow", AIRFLOW_FILE), ("imports", IMPORTS_ONLY)):
        files[side] = folder / f"bench_memory_{side}.py"
        files[side].write_text(template.format(jobs=jobs))
    progress(f"memory: DagBag of a {jobs}-job DAG file in a fresh interpreter, {args.repeat} x each side")
    figures = interleave(
        {
            "hymir": peak_rss(files["hymir"], jobs),
            "airflow": peak_rss(files["airflow"], jobs),
            "imports": peak_rss(files["imports"], 0),
        },
        args.repeat,
    )
    hymir, airflow, imports = (Spread.of(figures[side]) for side in ("hymir", "airflow", "imports"))
    notes = tuple(
        f"+{spread.median - imports.median:.0f} MB over the imports ({imports.median:.0f} MB), "
        f"{(spread.median - imports.median) * 1024 / jobs:.1f} KB/job"
        for spread in (hymir, airflow)
    )
    row = ratio_row("memory", f"peak RSS, DagBag of {jobs:,} jobs", hymir, airflow, "MB", TARGET, notes)
    report([row], args.json)


if __name__ == "__main__":
    main()
