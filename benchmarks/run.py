"""Benchmark: wall time of ``dag.test()`` for a 50-job workflow, Hymir against the same TaskFlow DAG.

The workflow is a Chain of 5 stages; each stage is a Group of 9 jobs that uppercase a word into
the output ``words_<stage>``, then one job that counts that output (a ``list[...]`` input of 9
values). The TaskFlow DAG has the same 50 tasks and edges: 9 ``@task`` calls per stage whose
XComArgs go, as a list, into a counting ``@task``. Both DAGs are registered once in a private
SQLite metadata database (``ensure_database`` and ``register_dag`` of
``hymir_airflow.backends.database``) and then run by ``dag.test()`` in turns, each run a new DAG run;
only ``dag.test()`` is timed (wall time; its CPU time is shown too). Target: Hymir / TaskFlow
<= 1.10 in wall time.

Run: ``.venv/bin/python benchmarks/run.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

from harness import parse_args, progress, report, timed_tests_row, use_private_airflow_home

use_private_airflow_home()

from airflow.sdk import DAG, task  # noqa: E402

from hymir import Chain, Group, Workflow  # noqa: E402
from hymir.examples.words import count, uppercase  # noqa: E402
from hymir_airflow import workflow_to_dag  # noqa: E402
from hymir_airflow.backends.database import ensure_database  # noqa: E402
from hymir_airflow.compat import register_dag  # noqa: E402

STAGES = 5
WIDTH = 9
TARGET = 1.10


def hymir_dag() -> DAG:
    members = []
    for stage in range(STAGES):
        output = f"words_{stage}"
        members.append(Group(*(uppercase(f"word {index}").with_output(output) for index in range(WIDTH))))
        members.append(count().with_inputs((output, "words")).with_output(f"count_{stage}"))
    return workflow_to_dag(Workflow(Chain(*members)), dag_id="bench_run_hymir")


@task
def upper(word: str) -> str:
    return word.upper()


@task
def tally(words: list[str]) -> int:
    return len(words)


def taskflow_dag() -> DAG:
    with DAG(dag_id="bench_run_taskflow", schedule=None) as dag:
        previous = None
        for stage in range(STAGES):
            words = [upper.override(task_id=f"upper_{stage}_{index}")(f"word {index}") for index in range(WIDTH)]
            if previous is not None:
                previous >> words
            previous = tally.override(task_id=f"tally_{stage}")(words)
    return dag


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_repeat=5, quick_repeat=2)
    ensure_database()
    dags = {"hymir": hymir_dag(), "airflow": taskflow_dag()}
    for dag in dags.values():
        assert len(dag.task_dict) == STAGES * (WIDTH + 1)
        register_dag(dag)
        dag.test()  # the first run of each pays one-off costs (imports, connections, caches)
    progress(f"run: dag.test() of {STAGES * (WIDTH + 1)} tasks, {args.repeat} x each side")
    row = timed_tests_row("run", f"dag.test(), {STAGES * (WIDTH + 1)} jobs", dags, args.repeat, TARGET)
    report([row], args.json)


if __name__ == "__main__":
    main()
