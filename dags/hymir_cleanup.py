"""Airflow DAG for the ON_FINISHED example: load tables in parallel, then always report (a teardown task)."""

from hymir.examples.cleanup import cleanup_workflow
from hymir_airflow import workflow_to_dag

dag = workflow_to_dag(cleanup_workflow(), dag_id="hymir_cleanup")
