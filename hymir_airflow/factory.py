"""workflow_to_dag: the drop-in DAG factory that turns a Hymir workflow into an Airflow DAG."""

from __future__ import annotations

import functools
import hashlib
import inspect
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, BaseOperator, Param, TaskGroup, get_parsing_context

from hymir.errors import InvalidWorkflow
from hymir.job import DEFAULT_CHECK_INTERVAL, RETRY_LIMIT, resolve_function
from hymir.labels import call_label, describe
from hymir.layout import WorkflowLayout
from hymir.workflow import Workflow
from hymir_airflow.compat import (
    DEFAULT_RETRY_DELAY,
    HAS_TASK_STATE_STORE,
    RECORDS_TASK_ID,
    config,
    link_tasks,
    records_holder,
)
from hymir_airflow.fail_fast import FAIL_FAST_TASK_ID, FailFastGate
from hymir_airflow.meta import operator_overrides
from hymir_airflow.operator import HYMIR_SETTINGS, HymirItemOperator, HymirJobOperator
from hymir_airflow.registry import built_workflow, remember
from hymir_airflow.task_docs import job_doc
from hymir_airflow.unit_operator import HymirUnitOperator

__all__ = ["built_workflow", "workflow_to_dag"]

#: The shortest wait between two checks of a CheckLater job on a deployment (seconds).
DEFAULT_MIN_CHECK_INTERVAL = 15

#: How often Airflow may retry a task for failures its job did not ask a retry for (a lost worker, ...).
DEFAULT_AIRFLOW_RETRIES = 3

#: How long Airflow waits before such a retry. Airflow's own default is 300 s; a job waiting on a
#: CheckLater that the scheduler failed in the reschedule race (apache/airflow#71172) should resume
#: within seconds, and a job's own retries wait the delay it drew, not this one: 10 s on Airflow
#: 3.3, and 0 before (where this delay would precede the job's own retries too).
DEFAULT_AIRFLOW_RETRY_DELAY: timedelta = DEFAULT_RETRY_DELAY

#: The sensor timeout of a unit's task: long enough never to end its pauses (``check_timeout`` is for jobs).
UNIT_TIMEOUT = timedelta(days=365)

#: Every Hymir DAG carries this tag, so the UI's tag filter and the Hymir view can find them.
HYMIR_TAG = "hymir"


def workflow_to_dag(
    workflow: Workflow,
    *,
    dag_id: str,
    schedule: Any = None,
    start_date: datetime | None = None,
    default_args: dict[str, Any] | None = None,
    task_groups: bool = True,
    check_interval: float | timedelta | None = None,
    check_timeout: float | timedelta | None = None,
    min_check_interval: float = DEFAULT_MIN_CHECK_INTERVAL,
    deferrable: bool = False,
    params: dict[str, Any] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """Build the Airflow DAG that runs ``workflow``: one HymirJobOperator task per job, a mapped one per job in a Map.

    A job's Retry results are capped by Hymir's rule, as on every engine (``Retry(max_retries=n)``,
    else the job's ``meta["max_retries"]``, else ``Workflow(max_retries=...)``); each task gets
    enough static retries for that, and the core's decision enforces the cap. Failures the job
    did not ask a retry for (a lost worker, a timeout, the scheduler's reschedule race) get
    Airflow's usual retries: the job's ``meta={"airflow": {"retries": n}}``, else
    ``default_args["retries"]``, else 3, each after its ``retry_delay`` (meta, else
    ``default_args``, else 10 s; 0 before Airflow 3.3). The workflow's ``fail_fast`` becomes the
    DAG's. ``check_interval`` is the wait after a ``CheckLater`` without
    ``wait_for`` (else ``default_args["poke_interval"]``, else 30 s) and ``check_timeout`` how
    long a job may keep asking to be checked later (else ``default_args["timeout"]``, else
    Airflow's sensor default). A CheckLater asking for less than ``min_check_interval``
    seconds waits that long instead: on a deployment, a sensor rescheduled within seconds can be
    failed by the scheduler (apache/airflow#71172); should that still happen, the task is retried
    (if it has retries left) and the job resumes with its stored context. With ``deferrable=True``
    (or a job's ``meta={"airflow": {"deferrable": True}}``) a CheckLater defers its task to the
    triggerer on a time trigger instead of rescheduling it: prefer it for many long waits, on a
    deployment that runs a triggerer (see ``HymirJobOperator``). Nested Chains and
    Groups become TaskGroups when ``task_groups`` is true; task ids stay the same either way.
    ON_FINISHED callbacks become teardown tasks after every job. Before Airflow 3.3 one more task,
    ``hymir_records``, keeps the jobs' records (Airflow has no task state store there). The
    workflow's params become the DAG's params, shown in
    the trigger form; ``params`` may give a new default or an ``airflow.sdk.Param`` (with a
    description and JSON schema) for each of them. Other keyword arguments go to ``DAG``.
    """
    default_args = dict(default_args or {})
    airflow_retries = default_args.pop("retries", DEFAULT_AIRFLOW_RETRIES)
    if "fail_fast" in dag_kwargs:
        raise InvalidWorkflow(
            "workflow_to_dag(fail_fast=...): set it on the workflow, Workflow(..., fail_fast=True), "
            "so that it means the same on every engine"
        )
    tags = list(dag_kwargs.pop("tags", None) or [])
    if HYMIR_TAG not in tags:
        tags.append(HYMIR_TAG)
    dag_kwargs.setdefault("doc_md", _workflow_doc(workflow))
    layout = WorkflowLayout.of(workflow)
    task_ids = layout.step_ids
    operator_defaults: dict[str, Any] = {
        "airflow_retries": airflow_retries,
        "poke_interval": check_interval
        if check_interval is not None
        else default_args.get("poke_interval", DEFAULT_CHECK_INTERVAL),
        "min_check_interval": min_check_interval,
        "deferrable": deferrable,
    }
    if "retry_delay" not in default_args:
        operator_defaults["retry_delay"] = DEFAULT_AIRFLOW_RETRY_DELAY
    if check_timeout is not None:
        operator_defaults["timeout"] = check_timeout
    elif "timeout" not in default_args:
        operator_defaults["timeout"] = _sensor_default_timeout()
    if not HAS_TASK_STATE_STORE:
        operator_defaults["records_task_id"] = layout.free_id(RECORDS_TASK_ID)

    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=start_date,
        default_args=default_args,
        tags=tags,
        params=_dag_params(workflow, params or {}),
        fail_fast=workflow.fail_fast,
        **dag_kwargs,
    ) as dag:
        gate_id = layout.free_id(FAIL_FAST_TASK_ID) if workflow.fail_fast else None
        running = _task_being_run(dag_id, task_ids, gate_id)
        if running is not None:
            _build_for_worker(workflow, running, task_ids, gate_id, operator_defaults)
        else:
            _build_whole(workflow, layout, task_ids, gate_id, operator_defaults, task_groups)
    remember(dag_id, workflow)
    return dag


def _task_being_run(dag_id: str, task_ids: Mapping[str, str], gate_id: str | None) -> str | None:
    """The task id a worker is about to run in this DAG, when Airflow's parsing context names one.

    Every task run parses its DAG file again, under a parsing context naming the DAG and the
    task; then only that task needs to exist. An unknown task id gives None, so the whole DAG
    is built and Airflow reports the missing task in its own words.
    """
    context = get_parsing_context()
    if context.dag_id != dag_id or context.task_id is None:
        return None
    known = {*task_ids.values(), gate_id}
    return context.task_id if context.task_id in known else None


def _build_whole(
    workflow: Workflow,
    layout: WorkflowLayout,
    task_ids: Mapping[str, str],
    gate_id: str | None,
    operator_defaults: dict[str, Any],
    task_groups: bool,
) -> None:
    """Every task of the workflow with its edges and TaskGroups, in the DAG being defined.

    ``tasks`` maps every job to the task that runs it, so a unit's members all name its task.
    """
    groups = _task_groups(layout) if task_groups else {}
    maps = workflow.maps
    tasks: dict[str, Any] = {
        job_id: _job_task(workflow, job_id, task_ids, operator_defaults, groups.get(job_id))
        for job_id in workflow.jobs
        if job_id not in maps and workflow.unit_of(job_id) is None
    }
    for unit_id, unit in workflow.units.items():
        task = _unit_task(workflow, unit_id, task_ids, operator_defaults, groups.get(unit_id))
        tasks.update((member, task) for member in unit.members)
    for job_id in maps:
        tasks[job_id] = _mapped_task(workflow, job_id, task_ids, operator_defaults, groups.get(job_id), tasks)
    tasks = {job_id: tasks[job_id] for job_id in workflow.jobs}
    for callback_id in workflow.callback_ids():
        tasks[callback_id] = _job_task(workflow, callback_id, task_ids, operator_defaults, None, teardown=True)
    dependencies = workflow.dependencies
    for job_id, predecessors in dependencies:
        for upstream in predecessors:
            if tasks[upstream] is not tasks[job_id]:
                link_tasks(tasks[upstream], tasks[job_id])
        if any(upstream in maps for upstream in predecessors):
            # A mapped task with no item is skipped, and the jobs after it still run, as on every engine.
            tasks[job_id].trigger_rule = "none_failed"
    if "records_task_id" in operator_defaults:
        _records_holder_before(operator_defaults["records_task_id"], tasks, dependencies)
    teardowns: list[BaseOperator] = [tasks[callback_id] for callback_id in workflow.callback_ids()]
    if gate_id is not None:
        teardowns.append(_fail_fast_gate(workflow, task_ids, gate_id))
    for teardown in teardowns:
        for job_id in layout.finish_line:
            link_tasks(tasks[job_id], teardown)


def _records_holder_before(task_id: str, tasks: dict[str, Any], dependencies: list[tuple[str, list[str]]]) -> None:
    """Before Airflow 3.3: the task that keeps the jobs' records, upstream of every first job.

    The scheduler marks it done at once; ``dag.test()`` runs it, and a task's start clears its
    XComs, so it must be done before any job writes a record there.
    """
    holder = records_holder(task_id)
    for job_id, predecessors in dependencies:
        if not predecessors:
            link_tasks(holder, tasks[job_id])


def _build_for_worker(
    workflow: Workflow,
    task_id: str,
    task_ids: Mapping[str, str],
    gate_id: str | None,
    operator_defaults: dict[str, Any],
) -> None:
    """Only the task a worker runs: what it does needs no other task, edge or group of the DAG."""
    if task_id == gate_id:
        _fail_fast_gate(workflow, task_ids, gate_id)
        return
    job_id = next(job_id for job_id, name in task_ids.items() if name == task_id)
    unit_id = workflow.unit_of(job_id)
    if unit_id is not None:
        _unit_task(workflow, unit_id, task_ids, operator_defaults, None)
        return
    maps = workflow.maps
    if job_id in maps:
        # Airflow expands the task over its producer's output: the producer's task must exist too.
        producer = workflow.map_producer(job_id)
        producer_task = _job_task(workflow, producer, task_ids, operator_defaults, None)
        _mapped_task(workflow, job_id, task_ids, operator_defaults, None, {producer: producer_task})
        return
    task = _job_task(workflow, job_id, task_ids, operator_defaults, None, teardown=job_id not in workflow.jobs)
    # A producer of a mapped job's items tells Airflow how many there are, which it does only with its mapped
    # tasks beside it.
    output = workflow[job_id].output
    for mapped in workflow.maps_over(output) if output is not None and maps else ():
        _mapped_task(workflow, str(mapped.job.identity), task_ids, operator_defaults, None, {job_id: task})


def _job_task(
    workflow: Workflow,
    job_id: str,
    task_ids: Mapping[str, str],
    operator_defaults: dict[str, Any],
    group: TaskGroup | None,
    *,
    teardown: bool = False,
) -> HymirJobOperator:
    """The task of one job; a ``teardown`` for an ON_FINISHED callback."""
    job = workflow[job_id]
    arguments = {**operator_defaults, **operator_overrides(job)}
    name = call_label(job)
    if name != task_ids[job_id]:
        arguments["task_display_name"] = name
    task = HymirJobOperator.for_job(
        task_id=task_ids[job_id],
        workflow=workflow,
        job_id=job_id,
        job_task_ids=task_ids,
        code_fingerprint=_code_fingerprint(job.name),
        doc_md=_function_doc(job.name),
        task_group=group,
        retries=RETRY_LIMIT + arguments["airflow_retries"],
        **arguments,
    )
    return task.as_teardown() if teardown else task


def _unit_task(
    workflow: Workflow,
    unit_id: str,
    task_ids: Mapping[str, str],
    operator_defaults: dict[str, Any],
    group: TaskGroup | None,
) -> HymirUnitOperator:
    """The task of one unit: its Airflow retries are the unit's, on top of those for failures it did not ask for.

    Its pauses are bounded by nothing, as on the LocalExecutor: the sensor's timeout is a year.
    """
    unit = workflow.units[unit_id]
    arguments = {**operator_defaults, "timeout": UNIT_TIMEOUT}
    fingerprints = sorted({_code_fingerprint(workflow[member].name) for member in unit.members})
    return HymirUnitOperator.for_unit(
        task_id=task_ids[unit.members[0]],
        workflow=workflow,
        unit_id=unit_id,
        job_task_ids=task_ids,
        code_fingerprint=hashlib.sha256(" ".join(fingerprints).encode()).hexdigest()[:16],
        task_group=group,
        retries=unit.retries + arguments["airflow_retries"],
        **arguments,
    )


def _mapped_task(
    workflow: Workflow,
    job_id: str,
    task_ids: Mapping[str, str],
    operator_defaults: dict[str, Any],
    group: TaskGroup | None,
    tasks: Mapping[str, Any],
) -> Any:
    """The mapped task of a mapped job: one task instance per item of its producer's output.

    Its arguments are plain values, serialized with the DAG; the item's operator finds the workflow
    itself. ``map_index_template`` shows each instance's index and item in the UI, ``max_active``
    becomes ``max_active_tis_per_dagrun``.
    """
    mapped = workflow.maps[job_id]
    job = workflow[job_id]
    limit = _max_map_length()
    if mapped.max_length > limit:
        raise InvalidWorkflow(
            f"{describe(job)}: its Map's max_length={mapped.max_length} is more than this Airflow's "
            f"[core] max_map_length={limit}; raise max_map_length or lower max_length"
        )
    arguments = {**operator_defaults, **operator_overrides(job)}
    name = call_label(job)
    if name != task_ids[job_id]:
        arguments["task_display_name"] = name
    if mapped.max_active is not None:
        arguments["max_active_tis_per_dagrun"] = mapped.max_active
    producer = workflow.map_producer(job_id)
    needed = {p for binding in workflow.input_bindings(job_id) for p in binding.producers or ()}
    retries = RETRY_LIMIT + arguments["airflow_retries"]
    settings = {name: arguments.pop(name) for name in HYMIR_SETTINGS if name in arguments}
    partial = HymirItemOperator.partial(
        task_id=task_ids[job_id],
        hymir_job_id=job_id,
        job_task_ids={p: task_ids[p] for p in sorted(needed)},
        hymir_settings={**settings, "code_fingerprint": _code_fingerprint(job.name)},
        doc_md=job_doc(_function_doc(job.name), job_id, job.name),
        task_group=group,
        retries=retries,
        map_index_template="{{ hymir_item }}",
        **arguments,
    )
    return partial.expand(hymir_item=tasks[producer].output)


@functools.cache
def _max_map_length() -> int:
    """Airflow's ``[core] max_map_length``: the most task instances one mapped task may expand into."""
    return int(config().getint("core", "max_map_length"))


def _fail_fast_gate(workflow: Workflow, task_ids: Mapping[str, str], gate_id: str) -> BaseOperator:
    """The teardown that fails a fail_fast workflow's run when a job failed."""
    gate = FailFastGate(
        task_id=gate_id,
        job_task_ids=list(dict.fromkeys(task_ids[job_id] for job_id in workflow.jobs)),
        doc_md=FailFastGate.__doc__,
    )
    teardown: BaseOperator = gate.as_teardown(on_failure_fail_dagrun=True)
    return teardown


def _dag_params(workflow: Workflow, overrides: dict[str, Any]) -> dict[str, Param]:
    """The DAG's params: one per workflow param, its default or the Param the factory was given."""
    unknown = sorted(set(overrides) - set(workflow.params))
    if unknown:
        raise InvalidWorkflow(
            f"workflow_to_dag(params=...) names {unknown}, which the workflow does not declare; "
            f"declare them with Workflow(..., params={{...}}) (its params: {sorted(workflow.params)})"
        )
    dag_params = {}
    for name, default in workflow.params.items():
        given = overrides.get(name, default)
        dag_params[name] = given if isinstance(given, Param) else Param(given)
    return dag_params


def _task_groups(layout: WorkflowLayout) -> dict[str, TaskGroup]:
    """A TaskGroup for every nested Chain and Group, with the layout's id; maps each job to its innermost.

    A unit is one task: the Chain or Group it holds, and those inside it, get no TaskGroup, and
    the unit's task (by unit id) sits in the group around them.
    """
    groups: dict[str, TaskGroup] = {}
    for container in layout.containers.values():
        if layout.in_unit(container):
            continue
        names = [
            layout.readable_ids[member] if isinstance(member, str) else f"({member.kind})"
            for member in container.members
        ]
        separator = " → " if container.kind == "chain" else " ‖ "
        parent_argument: dict[str, Any] = {} if container.parent is None else {"parent_group": groups[container.parent]}
        groups[container.id] = TaskGroup(
            group_id=container.id,
            prefix_group_id=False,
            tooltip=f"{container.kind.capitalize()}: {separator.join(names)}",
            **parent_argument,
        )
    of_jobs = {job_id: groups[group] for job_id, group in layout.container_of.items() if group in groups}
    parents = {unit_id: layout.containers[body].parent for unit_id, body in layout.unit_bodies.items()}
    return {**of_jobs, **{unit_id: groups[parent] for unit_id, parent in parents.items() if parent in groups}}


@functools.cache
def _sensor_default_timeout() -> float:
    """The sensor's own default timeout, read once per process rather than by every task or every DAG of a file.

    Reading one option from Airflow's configuration costs about as much as building a task.
    """
    return float(config().getfloat("sensors", "default_timeout"))


@functools.cache
def _code_fingerprint(name: str) -> str:
    """A short hash of the source of the module that defines the job function.

    It is a serialized field of the task, so the serialized DAG changes exactly when that code
    does, and Airflow records a new DAG version (with its bundle version) for runs of new code.
    """
    module = sys.modules[resolve_function(name).__module__]
    try:
        source = inspect.getsource(module).encode()
    except (OSError, TypeError):  # no source (a compiled or built-in module): its name stands for it
        source = module.__name__.encode()
    return hashlib.sha256(source).hexdigest()[:16]


@functools.cache
def _function_doc(name: str) -> str | None:
    """The job function's docstring, shown as the task's docs in the UI.

    Cached: the jobs of one function share one string instead of cleaning up a copy each.
    """
    return inspect.getdoc(resolve_function(name))


def _workflow_doc(workflow: Workflow) -> str:
    functions = sorted({job.name for job in workflow.jobs.values()})
    return f"Hymir workflow of {len(workflow)} jobs, calling: " + ", ".join(f"`{name}`" for name in functions)
