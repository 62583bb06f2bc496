"""The load test's workflow written by hand as an Airflow TaskFlow DAG, to compare throughput.

Same shape as ``tests.jobs.reliability.load_workflow`` (20 tasks, 82 edges): seed -> 12 parts ->
(flaky, check, total, biggest, smallest) -> (summary, count). Outputs travel through XCom as
task arguments; the retry is an exception with ``retries``/``retry_delay`` (the mean of Hymir's
1-2 s draw); CheckLater is a reschedule-mode sensor with ``poke_interval=15`` (Hymir's
``min_check_interval`` on deployments), keeping its note in the task state store as Hymir does.
"""

import time
from datetime import timedelta

from airflow.sdk import PokeReturnValue, cross_downstream, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowException

PARTS = 12


@dag(dag_id="taskflow_rel_load", schedule=None, max_active_runs=20, tags=["taskflow"])
def taskflow_rel_load():
    @task
    def seed():
        return 7

    @task
    def part(index, seed):
        return {"index": index, "value": index * seed}

    @task(retries=2, retry_delay=timedelta(seconds=1.5))
    def flaky_once():
        ti = get_current_context()["ti"]
        if ti.try_number < 2:
            raise AirflowException("transient failure: retry once")
        return ti.try_number - 1

    @task.sensor(mode="reschedule", poke_interval=15, timeout=600)
    def check_once():
        store = get_current_context()["task_state_store"]
        if store.get("first") is None:
            store.set("first", time.time())
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=1)

    @task
    def total(parts):
        return sum(item["value"] for item in parts)

    @task
    def biggest(parts):
        return max(item["value"] for item in parts)

    @task
    def smallest(parts):
        return min(item["value"] for item in parts)

    @task
    def summary(parts, flaky, checked, total, biggest, smallest):
        return {
            "indexes": [item["index"] for item in parts],
            "flaky": flaky,
            "checked": checked,
            "total": total,
            "biggest": biggest,
            "smallest": smallest,
        }

    @task
    def count_parts(parts):
        return len(parts)

    first = seed()
    parts = [part(index, first) for index in range(PARTS)]
    flaky, checked = flaky_once(), check_once()
    sums = [total(parts), biggest(parts), smallest(parts)]
    middle = [flaky, checked, *sums]
    cross_downstream(parts, [flaky, checked])
    last = [summary(parts, flaky, checked, *sums), count_parts(parts)]
    cross_downstream(middle, last)


taskflow_rel_load()
