"""HymirJobOperator: one Hymir job as one Airflow task, a reschedule-mode sensor."""

from __future__ import annotations

import random
import traceback
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Mapping

from airflow.sdk import BaseSensorOperator, PokeReturnValue, RetryDecision, RetryPolicy
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowTaskTimeout

from hymir.errors import InvalidJobReturn
from hymir.executor import JobState, JobStatus, WorkflowState, WorkflowStatus
from hymir.job import CheckLater, Failure, Retry, Success
from hymir.running import call_job, failure_message, gave_up_message, summarize
from hymir.validation import InputBinding, describe
from hymir.workflow import Workflow
from hymir_airflow.state import STORE_KEY, JobRecord, job_status, storable

if TYPE_CHECKING:
    from airflow.sdk import Context


class RetryRequested(AirflowException):
    """A job returned Retry: the task fails this try and is retried after ``delay`` seconds."""

    def __init__(self, message: str, delay: float):
        super().__init__(message)
        self.delay = delay


class HymirRetryPolicy(RetryPolicy):
    """Retries exactly when the job asked for it, after the delay it drew.

    An unhandled exception fails the task at once, as on the LocalExecutor, unless the job's
    ``meta={"airflow": {"retry_on_exception": True}}`` asks for Airflow's usual retries.
    """

    def __init__(self, retry_on_exception: bool = False):
        self.retry_on_exception = retry_on_exception

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int, context=None) -> RetryDecision:
        if isinstance(exception, RetryRequested):
            return RetryDecision.retry(delay=timedelta(seconds=exception.delay), reason=str(exception))
        if self.retry_on_exception:
            return RetryDecision.default()
        return RetryDecision.fail(
            reason="a Hymir job raised an exception; it is not retried unless its meta sets retry_on_exception"
        )

    def serialize(self) -> dict[str, Any]:
        return {"retry_on_exception": self.retry_on_exception}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> HymirRetryPolicy:
        return cls(bool(data.get("retry_on_exception")))


class HymirJobOperator(BaseSensorOperator):
    """Runs one job of a Hymir workflow and maps its result onto Airflow.

    Success succeeds with the value as XCom ``return_value``; Failure fails without retry;
    Retry becomes an Airflow retry after a random delay in [wait_min, wait_max]; CheckLater
    reschedules the task (freeing its worker slot) and keeps the job's context in the task
    state store; it waits at least ``min_check_interval`` seconds between checks. ``job_args``
    and ``job_kwargs`` are templated, so they show as rendered fields.
    """

    template_fields = ("job_args", "job_kwargs")
    template_fields_renderers = {"job_args": "json", "job_kwargs": "json"}
    shallow_copy_attrs = ("workflow", "task_ids")
    ui_color = "#ffe7c2"

    def __init__(
        self,
        *,
        workflow: Workflow,
        job_id: str,
        task_ids: Mapping[str, str],
        retry_on_exception: bool = False,
        min_check_interval: float = 0,
        mode: str = "reschedule",
        **kwargs: Any,
    ):
        super().__init__(mode=mode, retry_policy=HymirRetryPolicy(retry_on_exception), **kwargs)
        job = workflow[job_id]
        self.workflow = workflow
        self.hymir_job_id = job_id
        self.hymir_function = job.name
        self.task_ids = task_ids
        self.job_args = list(job.args)
        self.job_kwargs = dict(job.kwargs)
        self.min_check_interval = min_check_interval
        self._next_check: float = self.poke_interval

    @classmethod
    def get_serialized_fields(cls):
        return super().get_serialized_fields() | {"hymir_job_id", "hymir_function"}

    def poke(self, context: Context) -> bool | PokeReturnValue:
        ti = context["ti"]
        store = context["task_state_store"]
        record = self._record(context)
        who = describe(self.workflow[self.hymir_job_id])
        provided = {
            **{name: context["params"][name] for name in self.workflow.params},
            "workflow_id": context["run_id"],
            "job_id": self.hymir_job_id,
            "workflow": self.workflow,
            "job_state": JobState(
                status=JobStatus.STARTING, retries=ti.try_number - 1, checks=record.checks, context=dict(record.context)
            ),
            "workflow_state": self._workflow_state(context),
        }
        try:
            call = call_job(
                self.workflow,
                self.hymir_job_id,
                lambda binding: self._pull(context, binding),
                provided,
                args=tuple(self.job_args),
                kwargs=self.job_kwargs,
            )
        except InvalidJobReturn as error:
            self._save(store, record, exception=str(error))
            raise AirflowFailException(str(error)) from None
        except (Exception, AirflowTaskTimeout):
            # AirflowTaskTimeout (execution_timeout) is a BaseException: record it all the same.
            self._save(store, record, exception=traceback.format_exc())
            raise

        result = call.result
        if isinstance(result, Success):
            self.log.info("%s", summarize(self.workflow, self.hymir_job_id, call))
            if record.exception is not None:
                self._save(store, record, exception=None)
            return PokeReturnValue(True, result.result)
        if isinstance(result, Failure):
            self.log.info("%s", summarize(self.workflow, self.hymir_job_id, call))
            message = failure_message(self.workflow, self.hymir_job_id, result)
            self._save(store, record, result=storable(result.result), exception=message)
            raise AirflowFailException(message)
        if isinstance(result, Retry):
            retries = ti.try_number - 1
            cap = result.retry_cap(default=self.retries or 0)
            if retries >= min(cap, self.retries or 0):
                self.log.info("%s", summarize(self.workflow, self.hymir_job_id, call))
                message = gave_up_message(self.workflow, self.hymir_job_id, retries, cap)
                if retries < cap:
                    message += (
                        f"; the task's retries={self.retries} ran out first: raise it through "
                        f"meta={{'airflow': {{'retries': {cap}}}}}"
                    )
                self._save(store, record, exception=message)
                raise AirflowFailException(message)
            delay = random.uniform(*result.delay_bounds())
            self.log.info("%s", summarize(self.workflow, self.hymir_job_id, call, _after(delay)))
            raise self._retry(who, result, retries, cap, delay)
        if isinstance(result, CheckLater):
            new_context = record.context if result.context is None else dict(result.context)
            self._save(store, record, checks=record.checks + 1, context=new_context)
            asked = self.poke_interval if result.wait_for is None else result.wait_for
            self._next_check = max(asked, self.min_check_interval)
            if asked < self.min_check_interval:
                self.log.info(
                    "%s asked to be checked again in %s s; waiting min_check_interval=%s s instead, "
                    "since a sensor rescheduled within seconds can be failed by the scheduler (apache/airflow#71172)",
                    who, asked, self.min_check_interval,
                )
            self.log.info("%s", summarize(self.workflow, self.hymir_job_id, call, _after(self._next_check)))
            return False
        raise AssertionError(f"check_result let through {result!r}")

    def _retry(self, who: str, result: Retry, retries: int, cap: int, delay: float) -> RetryRequested:
        """The exception that fails this try so that Airflow retries it after ``delay`` seconds."""
        if (self.retries or 0) < cap:
            self.log.warning(
                "%s allows %d retries but the task has retries=%s, so Airflow stops after %s; "
                "raise the task's retries through meta={'airflow': {'retries': %d}}",
                who, cap, self.retries, self.retries, cap,
            )
        return RetryRequested(f"{who} returned {result!r}; retry {retries + 1} of {cap} in {delay:.1f} s", delay)

    @staticmethod
    def _record(context: Context) -> JobRecord:
        """The job's record from the task state store; on the task's very first poke, an empty one.

        Only a poke of this task writes the record, and the store lives as long as the DAG run.
        Whatever ran before (a poke that raised, asked to be checked later or was interrupted)
        left a later try (retry, clear) or a reschedule behind, so the first poke of try 1 can
        skip asking: that request was one in six of a task's calls to the API server.
        """
        if context["ti"].try_number <= 1 and not context.get("task_reschedule_count"):
            return JobRecord()
        return JobRecord.from_stored(context["task_state_store"].get(STORE_KEY))

    def _get_next_poke_interval(self, started_at, run_duration, poke_count) -> float:
        """The interval the job asked for with CheckLater, bounded by the sensor's remaining timeout."""
        return max(0.0, min(self._next_check, self.timeout - run_duration()))

    def _pull(self, context: Context, binding: InputBinding) -> list[Any]:
        """The values of an input, from the XComs of exactly the tasks that produce it, in graph order."""
        producers = list(binding.producers)
        if self.is_teardown:
            states = self._states(context, producers)
            producers = [p for p in producers if states[p] is JobStatus.SUCCESS]
        if not producers:
            return []
        return context["ti"].xcom_pull(task_ids=[self.task_ids[p] for p in producers], key="return_value")

    def _states(self, context: Context, job_ids: list[str]) -> dict[str, JobStatus]:
        ti = context["ti"]
        task_ids = [self.task_ids[job_id] for job_id in job_ids]
        found = ti.get_task_states(dag_id=ti.dag_id, task_ids=task_ids, run_ids=[ti.run_id]).get(ti.run_id, {})
        return {job_id: job_status(found.get(self.task_ids[job_id])) for job_id in job_ids}

    def _workflow_state(self, context: Context) -> WorkflowState:
        """RUNNING for a job; for an ON_FINISHED callback, the outcome of the jobs before it."""
        if not self.is_teardown:
            return WorkflowState(WorkflowStatus.RUNNING)
        states = self._states(context, list(self.workflow.jobs))
        succeeded = all(status is JobStatus.SUCCESS for status in states.values())
        return WorkflowState(WorkflowStatus.SUCCESS if succeeded else WorkflowStatus.FAILURE)

    @staticmethod
    def _save(store: Any, record: JobRecord, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(record, name, value)
        store.set(STORE_KEY, record.to_stored())


def _after(seconds: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)
