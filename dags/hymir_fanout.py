"""Airflow DAG for the Map example: one mapped task instance per file the first task lists."""

from airflow.sdk import Param

from hymir.examples.fanout import fanout_workflow
from hymir_airflow import workflow_to_dag

dag = workflow_to_dag(
    fanout_workflow(),
    dag_id="hymir_fanout",
    params={"count": Param(5, type="integer", minimum=0, maximum=100, description="How many files the batch has.")},
)
