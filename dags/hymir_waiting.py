"""Airflow DAG for the CheckLater example: wait for time to pass and for a file, holding no worker slot.

The trigger form asks for the file and the seconds. Create the file to let it finish:
``echo ready > /tmp/hymir-ready.txt``.
"""

from airflow.sdk import Param

from hymir.examples.waiting import waiting_workflow
from hymir_airflow import workflow_to_dag

dag = workflow_to_dag(
    waiting_workflow(),
    dag_id="hymir_waiting",
    params={
        "path": Param("/tmp/hymir-ready.txt", type="string", description="The file to wait for."),
        "seconds": Param(20, type="number", minimum=0, description="How long to wait, in seconds."),
    },
)
