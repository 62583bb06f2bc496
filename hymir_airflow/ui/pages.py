"""The pages of the Hymir view: the Hymir DAGs with their latest runs, the jobs of one run, and their values.

A run page shows bounded previews; each value is linked to its own endpoint, which streams the
whole (masked) value, and a tiny status endpoint lets an open page of an unfinished run reload
itself only when something on it changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse

from hymir_airflow import compat
from hymir_airflow.ui.access import RUN_ACCESS, ReadableDagIds, UserDep, runs_readable
from hymir_airflow.ui.import_errors import broken_hymir_files
from hymir_airflow.ui.preview import masked_json_chunks
from hymir_airflow.ui.queries import hymir_dags, job_value, run_detail, run_version
from hymir_airflow.ui.render import render

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

router = APIRouter()

#: A metadata-database session and the app's serialized-DAG cache, as route parameters' annotations.
if TYPE_CHECKING:
    SessionDep = Session
    DagBagDep = Any
else:
    SessionDep = compat.session_dependency()
    DagBagDep = compat.dag_bag_dependency()

_RUN = "/dags/{dag_id}/runs/{run_id:path}"


@router.get("/", response_class=HTMLResponse)
def dags_page(request: Request, session: SessionDep, readable: ReadableDagIds, user: UserDep) -> HTMLResponse:
    """Every Hymir DAG the user may read, with its latest runs when the user may read those too.

    Below them, the Hymir DAG files that failed to import, as far as the user may see them.
    """
    dags = hymir_dags(session, readable, lambda dag_ids: runs_readable(user, dag_ids))
    return render(request, "dags.html", dags=dags, broken_files=broken_hymir_files(session, user, readable))


# The longer routes come first: a run id may contain "/", so the run page's route would match them.
@router.get(_RUN + "/jobs/{task_id}/{part}", dependencies=RUN_ACCESS)
def value_endpoint(
    dag_id: str, run_id: str, task_id: str, part: str, session: SessionDep, dag_bag: DagBagDep
) -> StreamingResponse:
    """The whole value of one job (output, failure, context or exception) as JSON, masked, streamed."""
    value = job_value(session, dag_bag, dag_id, run_id, task_id, part)
    return StreamingResponse(masked_json_chunks(value), media_type="application/json")


@router.get(_RUN + "/status", dependencies=RUN_ACCESS)
def status_endpoint(dag_id: str, run_id: str, session: SessionDep) -> JSONResponse:
    """What an open run page polls: a fingerprint of everything the page shows, which changes with it."""
    version = run_version(session, dag_id, run_id)
    return JSONResponse({"version": version})


@router.get(_RUN, response_class=HTMLResponse, dependencies=RUN_ACCESS)
def run_page(
    request: Request, dag_id: str, run_id: str, session: SessionDep, dag_bag: DagBagDep, page: int = Query(1)
) -> HTMLResponse:
    """One page of the jobs of a run: identity, function, status, tries, checks, context, exception and output."""
    return render(request, "run.html", run=run_detail(session, dag_bag, dag_id, run_id, page))
