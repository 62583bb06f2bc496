"""The teardown task that makes a fail_fast workflow's DAG run end failed, as on every engine.

With ``fail_fast``, Airflow fails the running tasks and skips every other unfinished one once a
task fails; but a run whose last tasks were skipped ends *successful* (Airflow 3.3 judges a run
by its leaf tasks only). This teardown runs after every job, and fails the run when a job did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from hymir_airflow.compat import AirflowFailException
from hymir_airflow.state import plain_state

if TYPE_CHECKING:
    from airflow.sdk import Context

#: The task id of the gate (a suffix is added if a job's task already has it).
FAIL_FAST_TASK_ID = "hymir_fail_fast"


class FailFastGate(BaseOperator):
    """Fails when any of ``job_task_ids`` failed in this run; set up as a teardown that fails the run."""

    ui_color = "#f4d6d6"

    def __init__(self, *, job_task_ids: list[str], **kwargs: Any):
        super().__init__(**kwargs)
        self.job_task_ids = job_task_ids

    def execute(self, context: Context) -> None:
        ti = context["ti"]
        states = ti.get_task_states(dag_id=ti.dag_id, task_ids=self.job_task_ids, run_ids=[ti.run_id])
        found = states.get(ti.run_id, {})
        failed = sorted(task_id for task_id, state in found.items() if plain_state(state) == "failed")
        if failed:
            raise AirflowFailException(
                f"the workflow is fail_fast and {', '.join(failed)} failed: the run fails, although the tasks "
                "Airflow skipped after the failure would otherwise let it read as a success"
            )
        self.log.info("no job failed; the fail_fast run ends as its jobs did")
