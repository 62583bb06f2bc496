"""workflow_to_dag: the drop-in DAG factory that turns a Hymir workflow into an Airflow DAG."""

from __future__ import annotations

import functools
import inspect
import itertools
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, TaskGroup, conf

from hymir.errors import InvalidWorkflow
from hymir.job import DEFAULT_CHECK_INTERVAL, DEFAULT_MAX_RETRIES, resolve_function
from hymir.workflow import Structure, Workflow
from hymir_airflow.meta import operator_overrides
from hymir_airflow.naming import task_ids_for
from hymir_airflow.operator import HymirJobOperator

#: The shortest wait between two checks of a CheckLater job on a deployment (seconds).
DEFAULT_MIN_CHECK_INTERVAL = 15

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
    params: dict[str, Any] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """Build the Airflow DAG that runs ``workflow``: one HymirJobOperator task per job.

    A job's static ``retries`` is its ``meta={"airflow": {"retries": n}}``, else
    ``default_args["retries"]``, else Hymir's default cap (3): it must cover the ``max_retries`` of
    the job's Retry results. ``check_interval`` is the wait after a ``CheckLater`` without
    ``wait_for`` (else ``default_args["poke_interval"]``, else 30 s) and ``check_timeout`` how
    long a job may keep asking to be checked later (else ``default_args["timeout"]``, else
    Airflow's sensor default). A CheckLater asking for less than ``min_check_interval``
    seconds waits that long instead: on a deployment, a sensor rescheduled within seconds can be
    failed by the scheduler (apache/airflow#71172); should that still happen, the task is retried
    (if it has retries left) and the job resumes with its stored context. Nested Chains and
    Groups become TaskGroups when ``task_groups`` is true; task ids stay the same either way.
    ON_FINISHED callbacks become teardown tasks after every job. The workflow's params become the DAG's params, shown in
    the trigger form; ``params`` may give a new default or an ``airflow.sdk.Param`` (with a
    description and JSON schema) for each of them. Other keyword arguments go to ``DAG``.
    """
    default_args = dict(default_args or {})
    retries = default_args.pop("retries", DEFAULT_MAX_RETRIES)
    tags = list(dag_kwargs.pop("tags", None) or [])
    if HYMIR_TAG not in tags:
        tags.append(HYMIR_TAG)
    dag_kwargs.setdefault("doc_md", _workflow_doc(workflow))
    task_ids = task_ids_for(workflow)
    operator_defaults: dict[str, Any] = {
        "retries": retries,
        "poke_interval": check_interval if check_interval is not None else default_args.get(
            "poke_interval", DEFAULT_CHECK_INTERVAL
        ),
        "min_check_interval": min_check_interval,
    }
    if check_timeout is not None:
        operator_defaults["timeout"] = check_timeout
    elif "timeout" not in default_args:
        # The sensor's own default, read once here rather than from the configuration by every task.
        operator_defaults["timeout"] = conf.getfloat("sensors", "default_timeout")

    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=start_date,
        default_args=default_args,
        tags=tags,
        params=_dag_params(workflow, params or {}),
        **dag_kwargs,
    ) as dag:
        groups = _task_groups(workflow.structure, task_ids) if task_groups else {}
        tasks = {}
        for job_id in [*workflow.jobs, *workflow.callback_ids()]:
            job = workflow[job_id]
            tasks[job_id] = HymirJobOperator(
                task_id=task_ids[job_id],
                workflow=workflow,
                job_id=job_id,
                task_ids=task_ids,
                doc_md=_function_doc(job.name),
                task_group=groups.get(job_id),
                **{**operator_defaults, **operator_overrides(job)},
            )
        dependencies = workflow.dependencies
        for job_id, predecessors in dependencies:
            for upstream in predecessors:
                _link(tasks[upstream], tasks[job_id])
        leaves = _leaves(workflow, dependencies)
        for callback_id in workflow.callback_ids():
            teardown = tasks[callback_id].as_teardown()
            for leaf in leaves:
                _link(tasks[leaf], teardown)
    return dag


def _link(upstream: HymirJobOperator, downstream: HymirJobOperator) -> None:
    """``upstream >> downstream`` for two tasks that the factory made in the same DAG, in constant time.

    Airflow's ``>>`` first checks that both tasks belong to one DAG by putting their DAGs in a
    set, and a DAG's hash covers every task id: linking n tasks that way costs O(n²) (a Chain of
    Groups of 10,000 jobs spent 54 s in it). Both tasks are known to be in this DAG, so the edge
    is recorded as ``>>`` records it in the end: in the two tasks' sets of neighbour ids.
    """
    upstream.downstream_task_ids.add(downstream.node_id)
    downstream.upstream_task_ids.add(upstream.node_id)


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


def _leaves(workflow: Workflow, dependencies: list[tuple[str, list[str]]]) -> list[str]:
    """Jobs nothing depends on (given the workflow's ``dependencies``): once they are done, every job is."""
    has_successor = {upstream for _, predecessors in dependencies for upstream in predecessors}
    return [job_id for job_id in workflow.jobs if job_id not in has_successor]


def _task_groups(structure: Structure | None, task_ids: dict[str, str]) -> dict[str, TaskGroup]:
    """A TaskGroup (``group_1``, ``chain_1``, ...) for every nested Chain and Group; maps each job to its innermost."""
    if structure is None or isinstance(structure, str):
        return {}
    taken = set(task_ids.values())
    counters = {"chain": itertools.count(1), "group": itertools.count(1)}
    groups: dict[str, TaskGroup] = {}

    def visit(node: Structure, parent: TaskGroup | None) -> None:
        if isinstance(node, str):
            if parent is not None:
                groups[node] = parent
            return
        kind, children = node
        group_id = f"{kind}_{next(counters[kind])}"
        while group_id in taken:
            group_id = f"{kind}_{next(counters[kind])}"
        taken.add(group_id)
        names = [task_ids[child] if isinstance(child, str) else f"({child[0]})" for child in children]
        separator = " → " if kind == "chain" else " ‖ "
        parent_argument = {} if parent is None else {"parent_group": parent}
        group = TaskGroup(
            group_id=group_id,
            prefix_group_id=False,
            tooltip=f"{kind.capitalize()}: {separator.join(names)}",
            **parent_argument,
        )
        for child in children:
            visit(child, group)

    for child in structure[1]:
        visit(child, None)
    return groups


@functools.lru_cache(maxsize=None)
def _function_doc(name: str) -> str | None:
    """The job function's docstring, shown as the task's docs in the UI.

    Cached: the jobs of one function share one string instead of cleaning up a copy each.
    """
    return inspect.getdoc(resolve_function(name))


def _workflow_doc(workflow: Workflow) -> str:
    functions = sorted({job.name for job in workflow.jobs.values()})
    return f"Hymir workflow of {len(workflow)} jobs, calling: " + ", ".join(f"`{name}`" for name in functions)
