"""Airflow DAGs for the fault scenarios of tests/test_reliability.py and the deployment check of tests/test_security.py.

Lost workers are retried by Airflow itself after the task's ``retry_delay`` (the retry policy of a
Hymir task is not consulted then, since no exception reached the worker): 2 s here, not Airflow's
default of 300 s, so the fault tests do not wait five minutes.
"""

from datetime import timedelta

from hymir_airflow import workflow_to_dag
from tests.jobs import redaction as redaction_jobs
from tests.jobs import reliability as jobs

QUICK_RETRIES = {"retry_delay": timedelta(seconds=2)}

killed_worker_dag = workflow_to_dag(
    jobs.killed_worker_workflow(), dag_id="hymir_rel_killed_worker", default_args=QUICK_RETRIES
)
waiting_dag = workflow_to_dag(jobs.waiting_workflow(), dag_id="hymir_rel_waiting", default_args=QUICK_RETRIES)
database_cut_dag = workflow_to_dag(
    jobs.database_cut_workflow(), dag_id="hymir_rel_database_cut", default_args=QUICK_RETRIES
)
secret_dag = workflow_to_dag(jobs.secret_workflow(), dag_id="hymir_rel_secret")
leaking_dag = workflow_to_dag(redaction_jobs.leaking_workflow(), dag_id="hymir_rel_leaks", min_check_interval=1)
