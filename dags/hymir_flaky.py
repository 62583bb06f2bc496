"""Airflow DAG for the Retry example: a flaky call retried with a random delay, then stored."""

from airflow.sdk import Param

from hymir.examples.flaky import flaky_workflow
from hymir_airflow import workflow_to_dag

dag = workflow_to_dag(
    flaky_workflow(),
    dag_id="hymir_flaky",
    params={
        "succeed_on_try": Param(
            3, type="integer", minimum=1, maximum=6, description="The try on which the service answers."
        ),
    },
)
