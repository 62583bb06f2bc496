"""Airflow DAG for the CheckLater example: wait for time to pass and for a file, holding no worker slot.

Create the file to let it finish: ``echo ready > /tmp/hymir-ready.txt``.
"""

from hymir.examples.waiting import waiting_workflow
from hymir_airflow import workflow_to_dag

dag = workflow_to_dag(waiting_workflow(), dag_id="hymir_waiting")
