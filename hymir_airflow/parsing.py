"""DAG files that make several Hymir DAGs, building only the one a worker is about to run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from airflow.sdk import DAG, get_parsing_context

from hymir.workflow import Workflow
from hymir_airflow.factory import workflow_to_dag

Source = TypeVar("Source")


def dags_for(dag_ids: Mapping[str, Source], build: Callable[[Source], Workflow], **options: Any) -> dict[str, DAG]:
    """Make one DAG per entry of ``dag_ids`` (DAG id -> what ``build`` makes its workflow from).

    Every task of a DAG parses the DAG's file again in its worker before it runs, and Airflow
    names the DAG in question in the parsing context (``airflow.sdk.get_parsing_context()``):
    then only that DAG is built, and a file of a hundred tenants costs each task one workflow
    instead of a hundred. Where no DAG is named (the dag-processor, ``DagBag`` in tests), all
    of them are built. ``options`` go to ``workflow_to_dag`` for every DAG.

    A DAG file with one DAG per tenant::

        from hymir.examples.tenants import TENANTS, tenant_workflow
        from hymir_airflow import dags_for

        dags = dags_for({f"hymir_tenant_{tenant}": tenant for tenant in TENANTS}, tenant_workflow)

    ``build`` is called with the value, never ahead of time, so nothing of an unused tenant is
    computed (and no late-binding lambda can build the wrong one). Airflow finds the DAGs
    without a module variable each, since every DAG made inside ``with DAG(...)`` registers
    itself while a DAG file loads; the returned dict maps the DAG ids that were built to them.
    """
    wanted = get_parsing_context().dag_id
    return {
        dag_id: workflow_to_dag(build(source), dag_id=dag_id, **options)
        for dag_id, source in dag_ids.items()
        if wanted is None or wanted == dag_id
    }
