"""HymirJobOperator: one Hymir job as one Airflow task, a reschedule-mode sensor that may defer its checks.

The operator calls the job, has the core's ``decide`` say what the try means, and translates
that outcome into Airflow: a success with the value as XCom, a failure without retry, a retry
after the delay the job drew, or a reschedule (a deferral, with ``deferrable=True``). It judges
no result itself.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow.sdk import PokeReturnValue

from hymir.binding import InputBinding
from hymir.decision import Outcome, Verdict, decide, decide_raised, item_stopped_outcome
from hymir.errors import MissingValue
from hymir.executor import JobState, JobStatus, WorkflowState, WorkflowStatus
from hymir.jsonsafe import json_problem
from hymir.labels import describe, item_label
from hymir.mapping import item_id
from hymir.running import JobCall, call_job, summarize
from hymir.workflow import Workflow
from hymir_airflow.compat import (
    HAS_RETRY_POLICY,
    HAS_TASK_STATE_STORE,
    RECORDS_TASK_ID,
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
    ChosenRescheduleInterval,
    RecordStore,
    RetryAfter,
    continues_try,
    item_states,
    item_values,
    redact,
    retry_policy_arguments,
    seal,
    seals_encrypted,
    set_own_attributes,
    time_trigger,
    unseal,
)
from hymir_airflow.registry import built_workflow
from hymir_airflow.state import STORE_KEY, JobRecord, job_status, mapped_status, member_value_key
from hymir_airflow.task_docs import UNIT_FUNCTION, job_doc
from hymir_airflow.values import decode, encode

if TYPE_CHECKING:
    from airflow.sdk import Context

#: How long past its ``check_timeout`` a deferred job may wait for a late triggerer before Airflow fails its
#: task (seconds): the last check is due at the timeout itself.
DEFERRAL_GRACE = 60


#: The settings of ``HymirJobOperator.for_job`` that are Hymir's own rather than the sensor's.
HYMIR_SETTINGS = (
    "code_fingerprint",
    "airflow_retries",
    "retry_on_exception",
    "render_templates",
    "min_check_interval",
    "records_task_id",
    "deferrable",
)


class RetryRequested(RetryAfter):
    """A job returned Retry: the task fails this try and is retried after the delay the job drew.

    Airflow logs every exception that ends a try as "Task failed with exception" with its
    traceback, so the message itself says that this one is the job's own plan.
    """

    def __init__(self, reason: str, delay: float):
        super().__init__(f"{reason} (a retry the job asked for, not a crash)", delay)


class HymirJobOperator(ChosenRescheduleInterval):
    """Runs one job of a Hymir workflow and maps the core's decision about each try onto Airflow.

    Made by ``for_job``, which says what each setting means. ``job_args`` and ``job_kwargs`` are
    template fields so that the task's details show them, but they reach the job verbatim unless
    ``render_templates`` is set.

    With ``deferrable=True`` a CheckLater defers the task to Airflow's triggerer on a time
    trigger instead of rescheduling it: the wait costs no worker start or scheduler pass until it
    is over, which pays off for many long waits, and needs a running triggerer. The job then runs
    again with its record; its ``check_timeout`` counts from its first CheckLater of the try.
    """

    template_fields: tuple[str, ...] = ("job_args", "job_kwargs")
    template_fields_renderers: ClassVar[dict[str, str]] = {"job_args": "json", "job_kwargs": "json"}
    shallow_copy_attrs = ("workflow", "job_task_ids")
    ui_color = "#ffe7c2"
    #: The record a deferred wait resumed with (see ``resume_check``); None in a task that did not defer.
    _resumed: JobRecord | None = None

    workflow: Workflow
    hymir_job_id: str
    hymir_function: str
    hymir_code: str | None
    #: The task id of every job of the workflow, by job id: where producers' values and states are read.
    job_task_ids: Mapping[str, str]
    job_args: list[Any]
    job_kwargs: dict[str, Any]
    airflow_retries: int
    retry_on_exception: bool
    render_templates: bool
    min_check_interval: float
    deferrable: bool
    records_task_id: str | None

    @classmethod
    def for_job(
        cls,
        *,
        workflow: Workflow,
        job_id: str,
        job_task_ids: Mapping[str, str],
        code_fingerprint: str | None = None,
        airflow_retries: int = 0,
        retry_on_exception: bool = False,
        render_templates: bool = False,
        min_check_interval: float = 0,
        records_task_id: str | None = None,
        deferrable: bool = False,
        mode: str = "reschedule",
        **kwargs: Any,
    ) -> HymirJobOperator:
        """The task that runs job ``job_id`` of ``workflow``; ``kwargs`` are the sensor's arguments.

        ``job_task_ids`` maps every job of the workflow to its task id (the factory's readable ids),
        so the task knows where its producers' values and states are.

        ``airflow_retries`` is how often Airflow may retry the task for failures the job did not
        ask a retry for (a lost worker, a timeout, an exception when ``retry_on_exception`` is
        set); the job's own Retry results are capped by Hymir's rule, so the task's static
        ``retries`` must be at least ``RETRY_LIMIT + airflow_retries`` (the factory sets it). A
        CheckLater waits at least ``min_check_interval`` seconds (apache/airflow#71172).
        ``code_fingerprint`` (serialized as ``hymir_code``) identifies the code the job runs, so
        new code makes a new DAG version. ``records_task_id`` names the task whose XComs keep the
        job's record where Airflow has no task state store (before 3.3). The task's ``doc_md`` (the
        function's docstring, as the factory passes it) gets a last line naming the job, which the
        REST API shows (see ``hymir_airflow.task_docs``). The class has no constructor of its own,
        which would cost every task of every parse one more pass of
        Airflow's default-argument handling (see ``ChosenRescheduleInterval``).
        """
        job = workflow[job_id]
        kwargs["doc_md"] = job_doc(kwargs.get("doc_md"), job_id, job.name)
        task = cls(mode=mode, **retry_policy_arguments(), **kwargs)
        task._attach(
            workflow,
            job_id,
            job_task_ids,
            code_fingerprint=code_fingerprint,
            airflow_retries=airflow_retries,
            retry_on_exception=retry_on_exception,
            render_templates=render_templates,
            min_check_interval=min_check_interval,
            records_task_id=records_task_id,
            deferrable=deferrable,
        )
        return task

    def _attach(
        self,
        workflow: Workflow,
        job_id: str,
        job_task_ids: Mapping[str, str],
        *,
        code_fingerprint: str | None = None,
        airflow_retries: int = 0,
        retry_on_exception: bool = False,
        render_templates: bool = False,
        min_check_interval: float = 0,
        records_task_id: str | None = None,
        deferrable: bool = False,
    ) -> None:
        """Give the task its job and settings (see ``for_job``); a unit's task gives its unit id as ``job_id``.

        A unit's task runs no job of its own: it has no arguments, and names ``UNIT_FUNCTION``.
        """
        job = workflow[job_id] if job_id not in workflow.units else None
        if records_task_id is None and not HAS_TASK_STATE_STORE:
            records_task_id = RECORDS_TASK_ID
        set_own_attributes(
            self,
            job_args=list(job.args) if job else [],
            job_kwargs=dict(job.kwargs) if job else {},
            workflow=workflow,
            hymir_job_id=job_id,
            hymir_function=job.name if job else UNIT_FUNCTION,
            hymir_code=code_fingerprint,
            job_task_ids=job_task_ids,
            airflow_retries=airflow_retries,
            retry_on_exception=retry_on_exception,
            render_templates=render_templates,
            min_check_interval=min_check_interval,
            deferrable=deferrable,
            next_check=self.poke_interval,
            records_task_id=records_task_id,
        )

    @classmethod
    def get_serialized_fields(cls) -> frozenset[str]:
        # Airflow leaves it unannotated, and untyped_calls_exclude does not reach calls through super().
        fields: frozenset[str] = super().get_serialized_fields()  # type: ignore[no-untyped-call]
        return fields | {"hymir_job_id", "hymir_function", "hymir_code"}

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render the job's arguments only when the job opted in: by default they reach it verbatim.

        Verbatim arguments are the same at every check, so a start that continues its try (after a
        reschedule or a deferral) leaves the task's rendered fields as its try's first start stored
        them: Airflow then skips sending them again, one call to the API server per check.
        """
        if self.render_templates:
            super().render_template_fields(context, jinja_env)
        elif continues_try(context):
            self.template_fields = ()

    def resume_check(self, context: Context, event: Any = None, record: dict[str, Any] | None = None) -> Any:
        """Where a deferred wait resumes once its trigger fired: the job runs again, with the record it deferred with.

        The record comes back among the deferral's arguments; when Airflow hands them back without
        it (``dag.test()`` passes the trigger's event alone), it is read from its store.
        """
        self._resumed = JobRecord.from_stored(record) if record is not None else self._stored_record(context)
        return self.execute(context)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        ti = context["ti"]
        record = self._record(context)
        if (
            record.retry_at is not None
            and record.retry_at > time.time()
            and not self._waited_for_retry(record.retry_at - time.time())
        ):
            return False
        outside = ti.try_number - 1 - record.retries
        if outside > self.airflow_retries:
            reason = (
                f"{self._who()}: Airflow retried its task {outside} times for failures the job did not ask a "
                f"retry for (a lost worker, a timeout, an exception), more than its retries={self.airflow_retries}"
            )
            return self._act(context, record, Outcome(Verdict.FAILED, reason=reason))
        state = JobState(
            status=JobStatus.STARTING, retries=record.retries, checks=record.checks, context=self._context(record)
        )
        provided = {
            **{name: context["params"][name] for name in self.workflow.params},
            "workflow_id": context["run_id"],
            "job_id": self.hymir_job_id,
            "workflow": self.workflow,
            "job_state": state,
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
                item=self._item(),
            )
        except MissingValue as error:
            return self._act(context, record, Outcome(Verdict.FAILED, reason=str(error)))
        except BaseException as error:
            outcome = decide_raised(traceback.format_exc())
            self._save(context, record, exception=outcome.reason)
            # Exceptions and timeouts may be retried by Airflow when the job's meta asks for it;
            # other BaseExceptions (SystemExit, KeyboardInterrupt) fail the job like any exception.
            retryable = isinstance(error, (Exception, AirflowTaskTimeout))
            if retryable and self.retry_on_exception and outside < self.airflow_retries:
                raise
            message = f"{self._who()} raised {type(error).__name__}: {error}"
            if not self.retry_on_exception:
                message += "; it is not retried unless its meta sets retry_on_exception"
            if retryable:
                raise AirflowFailException(message) from error
            self.log.error("%s:\n%s", message, outcome.reason)
            raise AirflowFailException(message) from None
        outcome = decide(self.workflow, self.hymir_job_id, call.returned, state, check_interval=self.poke_interval)
        try:
            return self._act(context, record, outcome, call)
        except AirflowException:
            raise
        except Exception:
            reason = f"the Hymir operator failed while handling {self._who()}:\n{traceback.format_exc()}"
            self._save(context, record, exception=reason)
            raise AirflowFailException(reason) from None

    def _act(
        self, context: Context, record: JobRecord, outcome: Outcome, call: JobCall | None = None
    ) -> bool | PokeReturnValue:
        """Translate the core's outcome into Airflow: XCom and success, a failure, a retry or a reschedule."""
        delay = outcome.delay  # set for the verdicts that wait: RETRY and CHECK_AGAIN
        if outcome.verdict is Verdict.CHECK_AGAIN and delay is not None:
            delay = self._check_interval(delay)
        if call is not None:
            self.log.info("%s", summarize(self.workflow, self.hymir_job_id, call, delay))
        if outcome.verdict is Verdict.SUCCEEDED:
            if record.exception is not None:
                self._save(context, record, exception=None)
            return PokeReturnValue(True, encode(outcome.value))
        if outcome.verdict is Verdict.RETRY and delay is not None:
            retry_at = None if HAS_RETRY_POLICY else time.time() + delay
            self._save(context, record, retries=record.retries + 1, exception=None, retry_at=retry_at)
            raise RetryRequested(str(outcome.reason), delay)
        if outcome.verdict is Verdict.CHECK_AGAIN and delay is not None:
            kept = self._kept_context(outcome.context or {})
            if self.deferrable:
                self._defer_check(context, record, delay, kept)
            self._save(context, record, checks=record.checks + 1, **kept)
            self.next_check = delay
            return False
        self._save(context, record, result=self._shown(outcome.value), exception=outcome.reason)
        raise AirflowFailException(outcome.reason)

    def _defer_check(self, context: Context, record: JobRecord, delay: float, kept: dict[str, Any]) -> NoReturn:
        """Save the record of one more check and defer the task until the next one, ``delay`` seconds on.

        As in reschedule mode, the job gets a last check at its ``check_timeout`` (counted from its
        first CheckLater of this try) and fails when it asks for another one after it; Airflow fails a
        deferral that did not resume ``DEFERRAL_GRACE`` seconds after that (no triggerer running).
        """
        now = time.time()
        resumed_since = record.waiting_since if self._resumed is not None else None
        since = now if resumed_since is None else resumed_since
        remaining = self.timeout - (now - since)
        if remaining < 0:
            reason = f"{self._who()} still asked to be checked later after its check_timeout of {self.timeout:g} s"
            self._save(context, record, checks=record.checks + 1, exception=reason, **kept)
            raise AirflowSensorTimeout(reason)
        self._save(context, record, checks=record.checks + 1, waiting_since=since, **kept)
        self.defer(
            trigger=time_trigger(min(delay, remaining)),
            method_name="resume_check",
            kwargs={"record": record.to_stored()},
            timeout=timedelta(seconds=remaining + DEFERRAL_GRACE),
        )

    def _waited_for_retry(self, remaining: float) -> bool:
        """Before Airflow 3.3 a retry starts at once and waits here for the rest of the job's delay.

        A wait shorter than ``min_check_interval`` is slept through (a reschedule within seconds
        can be failed by the scheduler, apache/airflow#71172): True, the job runs now. A longer one
        is a reschedule, not bounded by ``check_timeout`` (it is no check): False.
        """
        if remaining <= self.min_check_interval:
            time.sleep(remaining)
            return True
        self.log.info("%s: waiting %.1f s more before this retry, the delay the job drew", self._who(), remaining)
        self.next_check = remaining
        self.next_check_bounded = False
        return False

    def _item(self) -> Any:
        """The item this task's job gets for the input its Map goes over: None for a job that is not mapped."""
        return None

    def _who(self) -> str:
        return describe(self.workflow[self.hymir_job_id])

    def _check_interval(self, asked: float) -> float:
        """The wait before the next check: what the job asked, but at least ``min_check_interval``."""
        if asked >= self.min_check_interval:
            return asked
        self.log.info(
            "%s asked to be checked again in %s s; waiting min_check_interval=%s s instead, "
            "since a sensor rescheduled within seconds can be failed by the scheduler (apache/airflow#71172)",
            self._who(),
            asked,
            self.min_check_interval,
        )
        return self.min_check_interval

    @staticmethod
    def _shown(value: Any) -> Any:
        """A Failure value as kept for display: masked, and its repr when JSON cannot carry it."""
        return redact(value if json_problem(value) is None else repr(value))

    def _kept_context(self, context: dict[str, Any]) -> dict[str, Any]:
        """The record's context fields: masked for display, and sealed whole when masking changed it."""
        shown = redact(context)
        if shown == context:
            return {"context": shown, "sealed_context": None}
        if not seals_encrypted():
            self.log.warning(
                "%s: its context holds secrets, which Airflow keeps unencrypted in the job's record because no "
                "Fernet key is configured; set [core] fernet_key to have them encrypted",
                self._who(),
            )
        return {"context": shown, "sealed_context": seal(context)}

    @staticmethod
    def _context(record: JobRecord) -> dict[str, Any]:
        """The context the job gets back: the real one, unsealed where the record keeps it sealed."""
        return unseal(record.sealed_context) if record.sealed_context is not None else dict(record.context)

    def _record(self, context: Context) -> JobRecord:
        """The job's record: the one a deferred wait resumed with, else from its store; on the very first poke, empty.

        Only a poke of this task writes the record, and the store lives as long as the DAG run.
        Whatever ran before (a poke that raised, asked to be checked later or was interrupted)
        left a later try (retry, clear), a reschedule or a deferral (which resumes with its record)
        behind, so the first poke of try 1 can skip asking: that request was one in six of a task's
        calls to the API server.
        """
        if self._resumed is not None:
            return self._resumed
        if context["ti"].try_number <= 1 and not context.get("task_reschedule_count"):
            return JobRecord()
        return self._stored_record(context)

    def _stored_record(self, context: Context) -> JobRecord:
        return JobRecord.from_stored(self._store(context).get())

    def _store(self, context: Context) -> RecordStore:
        return RecordStore(context, STORE_KEY, self.records_task_id)

    def _pull(self, context: Context, binding: InputBinding) -> list[Any]:
        """The values of an input, from the XComs of exactly the tasks that produce it, in workflow order.

        Every Hymir value is stored as something other than None, so None means the value is gone:
        the input fails naming the producer rather than handing the job a None. An ON_FINISHED
        callback reads the values of the jobs that succeeded: a member of a unit succeeded when its
        unit's task holds its value from the unit's last try.
        """
        producers = list(binding.producers or ())
        maps = self.workflow.maps
        if self.is_teardown:
            alone = [p for p in producers if p not in maps and self.workflow.unit_of(p) is None]
            states = self._states(context, alone)
            producers = [p for p in producers if p not in states or states[p] is JobStatus.SUCCESS]
        if any(p in maps for p in producers):
            values: list[Any] = []
            for producer in producers:
                if producer in maps:
                    values.extend(self._pull_items(context, binding, producer))
                else:
                    values.extend(self._pull_values(context, binding, [producer]))
            return values
        return self._pull_values(context, binding, producers)

    def _pull_items(self, context: Context, binding: InputBinding, producer: str) -> list[Any]:
        """The values of a mapped producer's items that succeeded, in item order, failing when one is missing.

        The values come in one request and the items' states in another; only when they disagree
        are the succeeded items asked for one by one, to name the ones whose value is gone.
        """
        ti = context["ti"]
        task_id = self.job_task_ids[producer]
        stored = item_values(ti, task_id)
        succeeded = sorted(
            index for index, state in item_states(ti, task_id).items() if index >= 0 and state == "success"
        )
        if len(stored) < len(succeeded):
            gone = [index for index in succeeded if ti.xcom_pull(task_ids=task_id, map_indexes=index) is None]
            items = ", ".join(item_id(producer, index) for index in gone)
            raise MissingValue(self._missing_message(binding, producer, f"{task_id}, item {items}"))
        return [decode(value) for value in stored]

    def _pull_values(self, context: Context, binding: InputBinding, producers: list[str]) -> list[Any]:
        """The values of jobs that are not mapped, failing when one is missing.

        A job's own task keeps its value as ``return_value`` (one request for all of them); a unit
        keeps each member's under ``job_<id>`` (one request each).
        """
        if not producers:
            return []
        ti = context["ti"]
        alone = [p for p in producers if self.workflow.unit_of(p) is None]
        stored = {}
        if alone:
            pulled = ti.xcom_pull(task_ids=[self.job_task_ids[p] for p in alone], key="return_value")
            stored = dict(zip(alone, pulled, strict=True))
        for producer in producers:
            if producer not in stored:
                stored[producer] = ti.xcom_pull(task_ids=self.job_task_ids[producer], key=member_value_key(producer))
        values = []
        for producer in producers:
            if stored[producer] is not None:
                values.append(decode(stored[producer]))
            elif not (self.is_teardown and self.workflow.unit_of(producer) is not None):
                raise MissingValue(self._missing_message(binding, producer, self.job_task_ids[producer]))
        return values

    def _missing_message(self, binding: InputBinding, producer: str, where: str) -> str:
        """Why an input failed: the value of ``producer`` (its task, or items, named by ``where``) is gone."""
        return (
            f"{self._who()}: input {binding.output!r}: the value of {describe(self.workflow[producer])} "
            f"(task {where}) is missing from XCom, although that task ran before this one: its XCom was "
            "cleared or deleted, or this task runs alone (`airflow tasks test`); run the producer again"
        )

    def _states(self, context: Context, job_ids: list[str]) -> dict[str, JobStatus]:
        """The status of each of ``job_ids`` in this run; a mapped job's from its items, asked for on their own.

        Airflow names item n of task ``load`` ``load_n``, which a task of that id would be too.
        """
        ti = context["ti"]
        maps = self.workflow.maps
        task_ids = [self.job_task_ids[job_id] for job_id in job_ids if job_id not in maps]
        found = {}
        if task_ids:
            found = ti.get_task_states(dag_id=ti.dag_id, task_ids=task_ids, run_ids=[ti.run_id]).get(ti.run_id, {})
        return {
            job_id: mapped_status(item_states(ti, self.job_task_ids[job_id]))
            if job_id in maps
            else job_status(found.get(self.job_task_ids[job_id]))
            for job_id in job_ids
        }

    def _workflow_state(self, context: Context) -> WorkflowState:
        """RUNNING for a job; for an ON_FINISHED callback, the outcome of the jobs before it."""
        if not self.is_teardown:
            return WorkflowState(WorkflowStatus.RUNNING)
        states = self._states(context, list(self.workflow.jobs))
        succeeded = all(status is JobStatus.SUCCESS for status in states.values())
        return WorkflowState(WorkflowStatus.SUCCESS if succeeded else WorkflowStatus.FAILURE)

    def _save(self, task_context: Context, record: JobRecord, **changes: Any) -> None:
        """Change the job's record and write it to its store, exception text masked.

        A ``retry_at`` is for the next try only: any other change clears it.
        """
        changes.setdefault("retry_at", None)
        if changes.get("exception") is not None:
            changes["exception"] = redact(changes["exception"])
        for name, value in changes.items():
            setattr(record, name, value)
        self._store(task_context).set(record.to_stored())


class HymirItemOperator(HymirJobOperator):
    """One item of a mapped Hymir job, as one task instance of a mapped task.

    ``workflow_to_dag`` maps it with ``partial(...).expand(hymir_item=<the producer's output>)``:
    Airflow makes one task instance per item of the list and builds this operator for each from
    plain arguments (a mapped task's arguments are serialized with the DAG), so it finds its
    workflow where the DAG file's ``workflow_to_dag`` recorded it. Its job is the item's, ``"3[2]"``
    at map index 2, with its own record; ``hymir_item`` is the item it gets, as the producer stored
    it. Arguments are rendered as templates only when the job opted in (``render_templates``).
    """

    template_fields: tuple[str, ...] = ()
    hymir_item: Any
    #: The identity of the mapped job whose item this is ("3").
    mapped_job_id: str

    def __init__(
        self,
        *,
        hymir_item: Any,
        hymir_job_id: str,
        job_task_ids: Mapping[str, str],
        hymir_settings: Mapping[str, Any],
        mode: str = "reschedule",
        **kwargs: Any,
    ) -> None:
        """``hymir_settings`` are ``for_job``'s own settings (``HYMIR_SETTINGS``); ``kwargs`` the sensor's arguments."""
        # Airflow's partial() fills in a retry_policy of None: the job's own policy replaces it.
        super().__init__(mode=mode, **{**kwargs, **retry_policy_arguments()})
        self._attach(built_workflow(self.dag_id), hymir_job_id, job_task_ids, **hymir_settings)
        set_own_attributes(self, hymir_item=hymir_item, mapped_job_id=hymir_job_id)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Run this item: as its own job ``"3[n]"``, unless another item failed in a fail_fast Map or workflow."""
        ti = context["ti"]
        index = ti.map_index if ti.map_index is not None else -1
        set_own_attributes(self, hymir_job_id=item_id(self.mapped_job_id, index))
        # What the task's map_index_template shows: the item's index and value, masked (Airflow stores and shows it).
        context["hymir_item"] = item_label(index, redact(decode(self.hymir_item)))  # type: ignore[typeddict-unknown-key]
        if self.render_templates:
            args, kwargs = self.render_template([self.job_args, self.job_kwargs], context)
            set_own_attributes(self, job_args=args, job_kwargs=kwargs)
        map_fail_fast = self.workflow.maps[self.mapped_job_id].fail_fast
        if map_fail_fast or self.workflow.fail_fast:
            failed = sorted(
                other
                for other, state in item_states(ti, self.task_id).items()
                if other != index and job_status(state) is JobStatus.FAILURE
            )
            if failed and self.workflow.fail_fast:
                # Airflow's fail_fast stops every task but the failed one's: its sibling items are left to us.
                raise AirflowSkipException(
                    f"{self._who()}: not run, since item {item_id(self.mapped_job_id, failed[0])} failed "
                    "and the workflow is fail_fast"
                )
            if failed:
                outcome = item_stopped_outcome(item_id(self.mapped_job_id, failed[0]))
                return self._act(context, self._record(context), outcome)
        return super().poke(context)

    def _item(self) -> Any:
        return decode(self.hymir_item)
