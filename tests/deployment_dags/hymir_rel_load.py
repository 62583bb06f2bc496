"""Airflow DAG for the load test of tests/test_reliability.py (compared with taskflow_load.py).

A file of its own: a worker parses the whole file of a task's DAG for every task it runs.
"""

from hymir_airflow import workflow_to_dag
from tests.jobs.reliability import load_workflow

dag = workflow_to_dag(load_workflow(), dag_id="hymir_rel_load", max_active_runs=20)
