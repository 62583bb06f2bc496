"""Airflow DAG for the distributed deployment test (tests/test_deployments.py)."""

from hymir_airflow import workflow_to_dag
from tests.jobs.deploy import distributed_workflow

dag = workflow_to_dag(distributed_workflow(), dag_id="hymir_distributed")
