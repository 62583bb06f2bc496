"""Airflow DAG for the Unit example: extract, transform and load as one task, retried as a whole."""

from hymir.examples.units import unit_workflow
from hymir_airflow import workflow_to_dag

dag = workflow_to_dag(unit_workflow(), dag_id="hymir_unit")
