"""The pages of the Hymir view: the Hymir DAGs with their latest runs, and the jobs of one run."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import HTMLResponse

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.dagbag import DagBagDep
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import requires_access_dag

from hymir_airflow.ui.access import ReadableDagIds
from hymir_airflow.ui.queries import hymir_dags, run_detail
from hymir_airflow.ui.render import render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def dags_page(request: Request, session: SessionDep, readable: ReadableDagIds) -> HTMLResponse:
    """Every Hymir DAG the user may read, with its latest runs."""
    return render(request, "dags.html", dags=hymir_dags(session, readable))


@router.get(
    "/dags/{dag_id}/runs/{run_id:path}",
    response_class=HTMLResponse,
    dependencies=[
        Depends(requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)),
        Depends(requires_access_dag("GET", DagAccessEntity.XCOM)),
    ],
)
def run_page(request: Request, dag_id: str, run_id: str, session: SessionDep, dag_bag: DagBagDep) -> HTMLResponse:
    """Each job of one run: identity, function, status, tries, checks and context, exception and output."""
    return render(request, "run.html", run=run_detail(session, dag_bag, dag_id, run_id))
