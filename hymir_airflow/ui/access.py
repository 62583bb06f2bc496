"""Who may see what: Airflow's own login and permissions, applied to the Hymir view.

The browser's login reaches the view as the ``_token`` cookie that Airflow's login page sets for
the whole site; API clients send ``Authorization: Bearer <token>``. Airflow's ``GetUserDep``
accepts either, so the view never reads a token itself. Every permission is asked of the
configured auth manager: a run's jobs need DAG-run, task-instance and XCom read on its DAG.
"""

from __future__ import annotations

from typing import Annotated, Iterable

from fastapi import Depends
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from airflow.models.dag import DagModel

from hymir_airflow.ui.render import render

#: What a user must be allowed to read on a DAG to see a run's jobs and their values.
RUN_ACCESS = [
    Depends(requires_access_dag("GET", entity))
    for entity in (DagAccessEntity.RUN, DagAccessEntity.TASK_INSTANCE, DagAccessEntity.XCOM)
]


def readable_dag_ids(user: GetUserDep) -> set[str]:
    """The DAGs the logged-in user may read (HTTP 401 when nobody is logged in)."""
    return get_auth_manager().get_authorized_dag_ids(user=user, method="GET")


ReadableDagIds = Annotated[set[str], Depends(readable_dag_ids)]


def runs_readable(user: BaseUser, dag_ids: Iterable[str]) -> set[str]:
    """Those of ``dag_ids`` whose runs ``user`` may read (DAG-run read, asked of the auth manager)."""
    dag_ids = list(dag_ids)
    teams = DagModel.get_dag_id_to_team_name_mapping(dag_ids)
    manager = get_auth_manager()
    return {
        dag_id
        for dag_id in dag_ids
        if manager.is_authorized_dag(
            method="GET",
            access_entity=DagAccessEntity.RUN,
            details=DagDetails(id=dag_id, team_name=teams.get(dag_id)),
            user=user,
        )
    }


async def http_error(request: Request, error: HTTPException) -> Response:
    """Send a browser that is not logged in to Airflow's login page, and show it other errors as a page.

    Other clients get Airflow's usual JSON error (401 when not logged in).
    """
    if "text/html" not in request.headers.get("accept", ""):
        return await http_exception_handler(request, error)
    if error.status_code == 401:
        login = get_auth_manager().get_url_login(next_url=str(request.url))
        return RedirectResponse(login, status_code=303)
    return render(request, "error.html", status_code=error.status_code, code=error.status_code, detail=error.detail)
