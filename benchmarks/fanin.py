"""Benchmark: resolving one input fed by 1,000 producers, Hymir against a TaskFlow task taking them all.

Method. Running 1,000 producer tasks through ``dag.test()`` takes minutes, so they run only on
paper: for each side, the DAG (1,000 producers in a Group, then one consumer of their output as
``list[...]``) is registered in a private SQLite metadata database, one DAG run is created,
every producer's task instance is set to success and its ``return_value`` XCom is written as
the execution API would store it. Then only the consumer task runs, repeatedly, through the
same in-process task runner that ``dag.test()`` uses (each repetition is a new try; Airflow
clears the consumer's own XComs when it starts again).

What is timed is the input resolution inside the consumer task, in the worker:

* Hymir: ``HymirJobOperator._pull``, which fetches the XComs of the input's producers;
* TaskFlow: ``render_template_fields`` of the consumer, which resolves its 1,000 XComArgs.

The consumer task's whole duration is shown as a note. Both sides check that the consumer
received the 1,000 values in graph order. Target: Hymir / TaskFlow <= 1.2.

Run: ``.venv/bin/python benchmarks/fanin.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from harness import Spread, interleave, parse_args, progress, ratio_row, report, use_private_airflow_home

use_private_airflow_home()

from airflow.models.dagrun import DagRun, get_or_create_dagrun  # noqa: E402
from airflow.models.taskinstance import TaskInstance  # noqa: E402
from airflow.models.xcom import XComModel  # noqa: E402
from airflow.sdk import DAG, task, timezone  # noqa: E402
from airflow.sdk.bases.xcom import BaseXCom  # noqa: E402
from airflow.sdk.definitions.dag import _run_task  # noqa: E402
from airflow.utils.session import create_session  # noqa: E402
from airflow.utils.state import TaskInstanceState  # noqa: E402
from airflow.utils.types import DagRunTriggeredByType, DagRunType  # noqa: E402

from hymir import Chain, Group, Workflow  # noqa: E402
from hymir.examples.words import count, uppercase  # noqa: E402
from hymir_airflow import workflow_to_dag  # noqa: E402
from hymir_airflow.backends.database import ensure_database  # noqa: E402
from hymir_airflow.compat import dag_serializer, register_dag  # noqa: E402
from hymir_airflow.operator import HymirJobOperator  # noqa: E402

PRODUCERS = 1_000
QUICK_PRODUCERS = 300
TARGET = 1.2


def hymir_dag(producers: int) -> tuple[DAG, str, list[str]]:
    """The Hymir DAG, its consumer's task id, and its producers' task ids in graph order."""
    workflow = Workflow(Chain(Group(*(uppercase(f"word {index}") for index in range(producers))), count()))
    dag = workflow_to_dag(workflow, dag_id="bench_fanin_hymir")
    return dag, "count", ["uppercase", *(f"uppercase_{number}" for number in range(2, producers + 1))]


@task
def upper(word: str) -> str:
    return word.upper()


@task
def tally(words: list[str]) -> int:
    return len(words)


def taskflow_dag(producers: int) -> tuple[DAG, str, list[str]]:
    """The TaskFlow DAG, its consumer's task id, and its producers' task ids in order."""
    task_ids = [f"upper_{index}" for index in range(producers)]
    with DAG(dag_id="bench_fanin_taskflow", schedule=None) as dag:
        tally([upper.override(task_id=task_id)(f"word {index}") for index, task_id in enumerate(task_ids)])
    return dag, "tally", task_ids


def prepare_run(dag: DAG, producer_ids: list[str]) -> str:
    """A DAG run in which every producer has succeeded with ``WORD <index>``; returns its run id."""
    register_dag(dag)
    serializer = dag_serializer()
    scheduler_dag = serializer.deserialize_dag(serializer.serialize_dag(dag))
    now = timezone.utcnow()
    with create_session() as session:
        run = get_or_create_dagrun(
            dag=scheduler_dag,
            run_id=DagRun.generate_run_id(run_type=DagRunType.MANUAL, logical_date=now, run_after=now),
            logical_date=now,
            data_interval=None,
            run_after=now,
            conf=None,
            triggered_by=DagRunTriggeredByType.TEST,
            triggering_user_name="benchmark",
            start_date=now,
            session=session,
        )
        run_id = run.run_id
        producers = set(producer_ids)
        for ti in run.get_task_instances(session=session):
            if ti.task_id in producers:
                ti.state, ti.try_number = TaskInstanceState.SUCCESS, 1
        for index, task_id in enumerate(producer_ids):
            XComModel.set(
                key=BaseXCom.XCOM_RETURN_KEY,
                value=BaseXCom.serialize_value(f"WORD {index}"),
                dag_id=dag.dag_id,
                task_id=task_id,
                run_id=run_id,
                serialize=False,
                session=session,
            )
    return run_id


class Stopwatch:
    """Collects the durations of one method of one task, measured in the worker."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self.received: Any = None

    @contextmanager
    def patched(self, cls: type, name: str, task_id: str, received: Callable[[Any, Any], Any]) -> Iterator[None]:
        """Time ``cls.name`` when the task ``task_id`` calls it; keep what ``received(task, result)`` says."""
        original = getattr(cls, name)

        def timed(task: Any, *args: Any, **kwargs: Any) -> Any:
            if task.task_id != task_id:
                return original(task, *args, **kwargs)
            started = time.perf_counter()
            result = original(task, *args, **kwargs)
            self.durations.append(time.perf_counter() - started)
            self.received = received(task, result)
            return result

        setattr(cls, name, timed)
        try:
            yield
        finally:
            setattr(cls, name, original)


class Consumer:
    """Runs the consumer task of a prepared DAG run once more (a new try) each time it is called.

    A call returns how long the input resolution took; ``whole`` collects the task's durations.
    """

    def __init__(self, dag: DAG, run_id: str, task_id: str, stopwatch: Stopwatch):
        self.dag, self.run_id, self.task_id, self.stopwatch = dag, run_id, task_id, stopwatch
        self.whole: list[float] = []

    def _task_instance(self, session: Any) -> TaskInstance:
        query = session.query(TaskInstance).filter_by(dag_id=self.dag.dag_id, run_id=self.run_id, task_id=self.task_id)
        return query.one()

    def __call__(self) -> float:
        with create_session() as session:
            ti = self._task_instance(session)
            ti.try_number += 1
            ti.state = TaskInstanceState.SCHEDULED
        with create_session() as session:
            ti = self._task_instance(session)
            started = time.perf_counter()
            _run_task(ti=ti, task=self.dag.task_dict[self.task_id])
            self.whole.append(time.perf_counter() - started)
            assert ti.state == TaskInstanceState.SUCCESS, f"{self.dag.dag_id}.{self.task_id} ended {ti.state}"
        return self.stopwatch.durations[-1]


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_repeat=3, quick_repeat=3)
    producers = QUICK_PRODUCERS if args.quick else PRODUCERS
    ensure_database()
    consumers: dict[str, Consumer] = {}
    for side, make in (("hymir", hymir_dag), ("airflow", taskflow_dag)):
        dag, consumer_id, producer_ids = make(producers)
        progress(f"fanin: preparing a run of {dag.dag_id} with {producers} producers")
        consumers[side] = Consumer(dag, prepare_run(dag, producer_ids), consumer_id, Stopwatch())
    hymir_watch, airflow_watch = consumers["hymir"].stopwatch, consumers["airflow"].stopwatch
    taskflow_class = type(consumers["airflow"].dag.task_dict["tally"])
    # No warm-up run: one-off costs (imports, connections) are far below 1 % of a run of 1,000 pulls.
    with (
        hymir_watch.patched(HymirJobOperator, "_pull", "count", lambda task, values: values),
        airflow_watch.patched(taskflow_class, "render_template_fields", "tally", lambda task, _: task.op_args[0]),
    ):
        progress(f"fanin: the consumer of {producers} producers, {args.repeat} x each side")
        figures = interleave(dict(consumers), args.repeat)
    expected = [f"WORD {index}" for index in range(producers)]
    for side, consumer in consumers.items():
        assert consumer.stopwatch.received == expected, f"{side}: the consumer received other values"
    hymir, airflow = Spread.of(figures["hymir"]), Spread.of(figures["airflow"])
    notes = tuple(f"whole task {Spread.of(consumers[side].whole).median:.3g} s" for side in ("hymir", "airflow"))
    row = ratio_row("fanin", f"input of {producers:,} producers", hymir, airflow, "s", TARGET, notes)
    report([row], args.json)


if __name__ == "__main__":
    main()
