"""HymirUnitOperator: a Unit of a Hymir workflow as one Airflow task, its members run in one process.

The task runs a pass of the unit's members with the core's runner (``hymir.units``), which
decides what each member's result means and what the pass means for the unit; the task only
translates the unit's outcome: a success, a reschedule while a member waits, a retry of the
whole unit after its ``retry_delay``, or a failure.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from airflow.sdk import PokeReturnValue

from hymir.decision import Outcome, Verdict
from hymir.executor import JobState, JobStatus
from hymir.jsonsafe import json_copy
from hymir.labels import call_label, describe
from hymir.units import run_unit_pass
from hymir.workflow import Workflow
from hymir_airflow.compat import (
    HAS_RETRY_POLICY,
    AirflowFailException,
    redact,
    retry_policy_arguments,
    set_own_attributes,
)
from hymir_airflow.operator import HymirJobOperator, RetryRequested
from hymir_airflow.state import JobRecord, UnitRecord, member_value_key
from hymir_airflow.task_docs import UNIT_FUNCTION, job_doc
from hymir_airflow.values import encode

if TYPE_CHECKING:
    from airflow.sdk import Context


def unit_doc(workflow: Workflow, unit_id: str) -> str:
    """The docs of a unit's task: its members in the order they run, then the line naming the unit."""
    unit = workflow.units[unit_id]
    lines = [f"Hymir unit of {len(unit.members)} jobs, run in this order in one task (retries={unit.retries}):", ""]
    lines += [f"1. `{call_label(workflow[m])}`: {describe(workflow[m])}" for m in unit.members]
    return job_doc("\n".join(lines), unit_id, UNIT_FUNCTION)


class HymirUnitOperator(HymirJobOperator):
    """Runs the members of one unit of a Hymir workflow in this task, as the LocalExecutor runs them.

    Made by ``for_unit``. The task's Airflow retries are the unit's: a try that fails is retried
    after the unit's ``retry_delay`` and runs every member again. A member that asks to run again
    later reschedules the task (units never defer), and the next poke resumes at that member; the
    unit's pauses are not bounded by ``check_timeout``, as the LocalExecutor bounds them by nothing.
    After every poke the task pushes each member's value that succeeded in this try under
    ``job_<id>``, where consumers outside the unit read it. Members' states live in the task's
    record; the log has one line per member result.
    """

    template_fields: tuple[str, ...] = ()
    ui_color = "#ffd49a"
    #: The unit's members in the order they run, each as ``[job id, function, args, kwargs]``: what the
    #: Hymir view lists.
    hymir_members: list[list[Any]]

    @classmethod
    def for_unit(
        cls,
        *,
        workflow: Workflow,
        unit_id: str,
        job_task_ids: Mapping[str, str],
        code_fingerprint: str | None = None,
        airflow_retries: int = 0,
        min_check_interval: float = 0,
        records_task_id: str | None = None,
        mode: str = "reschedule",
        deferrable: bool = False,
        retry_on_exception: bool = False,
        render_templates: bool = False,
        **kwargs: Any,
    ) -> HymirUnitOperator:
        """The task that runs unit ``unit_id`` of ``workflow``; ``kwargs`` are the sensor's arguments.

        ``job_task_ids`` maps every job to the task that runs it (a member to its unit's task);
        the other settings mean what they mean for ``HymirJobOperator.for_job``. The task's static
        ``retries`` must be at least the unit's ``retries`` plus ``airflow_retries`` (the factory sets it).
        ``deferrable``, ``retry_on_exception`` and ``render_templates`` are the workflow's job settings,
        which a unit does not take: it never defers, its members' exceptions fail its try, and it has no
        arguments to render.
        """
        kwargs["doc_md"] = unit_doc(workflow, unit_id)
        task = cls(mode=mode, **retry_policy_arguments(), **kwargs)
        task._attach(
            workflow,
            unit_id,
            job_task_ids,
            code_fingerprint=code_fingerprint,
            airflow_retries=airflow_retries,
            min_check_interval=min_check_interval,
            records_task_id=records_task_id,
        )
        members = workflow.units[unit_id].members
        set_own_attributes(
            task,
            hymir_members=[[m, workflow[m].name, list(workflow[m].args), dict(workflow[m].kwargs)] for m in members],
        )
        return task

    @classmethod
    def get_serialized_fields(cls) -> frozenset[str]:
        return super().get_serialized_fields() | {"hymir_members"}

    def poke(self, context: Context) -> bool | PokeReturnValue:
        ti = context["ti"]
        record = self._unit_record(context)
        if record.try_number != ti.try_number:
            record.try_number, record.members, record.exception = ti.try_number, {}, None
            outside = ti.try_number - 1 - record.retries
            if outside > self.airflow_retries:
                record.exception = (
                    f"{self._who()}: Airflow retried its task {outside} times for failures the unit did not ask a "
                    f"retry for (a lost worker, a timeout), more than its retries={self.airflow_retries}"
                )
                self._save_unit(context, record)
                raise AirflowFailException(record.exception)
        if (
            record.retry_at is not None
            and record.retry_at > time.time()
            and not self._waited_for_retry(record.retry_at - time.time())
        ):
            return False
        record.retry_at = None
        members = {job_id: self._member_state(record, job_id) for job_id in record.members}
        states, outcome = run_unit_pass(
            self.workflow,
            self.hymir_job_id,
            members,
            record.retries,
            values_of=lambda binding: self._pull(context, binding),
            provided=lambda job_id, state: self._provided(context, job_id, state),
            log=lambda line: self.log.info("%s", line),
            check_interval=self.poke_interval,
        )
        for job_id, state in states.items():
            if state.status is not JobStatus.PENDING or state.retries or state.checks:
                record.members[job_id] = self._member_stored(state)
            if state.status is JobStatus.SUCCESS:
                ti.xcom_push(key=member_value_key(job_id), value=encode(state.result))
        return self._act_unit(context, record, outcome)

    def _act_unit(self, context: Context, record: UnitRecord, outcome: Outcome) -> bool:
        """Translate what the pass means for the unit into Airflow, the record saved first."""
        if outcome.verdict is Verdict.SUCCEEDED:
            self._save_unit(context, record)
            return True
        if outcome.verdict is Verdict.CHECK_AGAIN and outcome.delay is not None:
            self.log.info("%s", outcome.reason)
            record.checks += 1
            self._save_unit(context, record)
            self.next_check = self._check_interval(outcome.delay)
            self.next_check_bounded = False
            return False
        record.exception = redact(outcome.reason)
        if outcome.verdict is Verdict.RETRY and outcome.delay is not None:
            record.retries += 1
            record.retry_at = None if HAS_RETRY_POLICY else time.time() + outcome.delay
            self._save_unit(context, record)
            raise RetryRequested(str(outcome.reason), outcome.delay)
        self._save_unit(context, record)
        raise AirflowFailException(outcome.reason)

    def _provided(self, context: Context, job_id: str, state: JobState) -> dict[str, Any]:
        """The reserved inputs and params a member gets, as a job task gives them: its own copies of them."""
        return {
            **json_copy({name: context["params"][name] for name in self.workflow.params}),
            "workflow_id": context["run_id"],
            "job_id": job_id,
            "workflow": self.workflow,
            "job_state": replace(state, context=json_copy(state.context), result=json_copy(state.result)),
            "workflow_state": self._workflow_state(context),
        }

    def _unit_record(self, context: Context) -> UnitRecord:
        """The unit's record; on the very first poke, empty without asking (see ``HymirJobOperator._record``)."""
        if context["ti"].try_number <= 1 and not context.get("task_reschedule_count"):
            return UnitRecord()
        return UnitRecord.from_stored(self._store(context).get())

    def _save_unit(self, context: Context, record: UnitRecord) -> None:
        self._store(context).set(record.to_stored())

    def _member_state(self, record: UnitRecord, job_id: str) -> JobState:
        """A member's state in this try, from the record, with its real (unsealed) context."""
        status, member = record.member(job_id)
        return JobState(
            status=status,
            retries=member.retries,
            checks=member.checks,
            context=self._context(member),
            exception=member.exception,
            result=member.result,
        )

    def _member_stored(self, state: JobState) -> dict[str, Any]:
        """A member's state as the record keeps it: exception and Failure value masked, context sealed if need be."""
        succeeded = state.status is JobStatus.SUCCESS
        member = JobRecord(
            retries=state.retries,
            checks=state.checks,
            exception=None if state.exception is None else redact(state.exception),
            result=state.result if succeeded else self._shown(state.result),
            **self._kept_context(state.context),
        )
        return {"status": state.status.value, **member.to_stored()}

    def _who(self) -> str:
        members = ", ".join(self.workflow.units[self.hymir_job_id].members)
        return f"{self.hymir_job_id} (jobs {members})"
