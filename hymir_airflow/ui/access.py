"""Who may see what: Airflow's own login and permissions, applied to the Hymir view.

The browser's login reaches the view as the ``_token`` cookie that Airflow's login page sets for
the whole site; API clients send ``Authorization: Bearer <token>``. Airflow's ``GetUserDep``
accepts either, so the view never reads a token itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.core_api.security import GetUserDep

from hymir_airflow.ui.render import render


def readable_dag_ids(user: GetUserDep) -> set[str]:
    """The DAGs the logged-in user may read (HTTP 401 when nobody is logged in)."""
    return get_auth_manager().get_authorized_dag_ids(user=user, method="GET")


ReadableDagIds = Annotated[set[str], Depends(readable_dag_ids)]


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
