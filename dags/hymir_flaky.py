"""Airflow DAG for the Retry example: a flaky call retried with a random delay, then stored."""

from hymir.examples.flaky import flaky_workflow
from hymir_airflow import workflow_to_dag

dag = workflow_to_dag(flaky_workflow(), dag_id="hymir_flaky")
