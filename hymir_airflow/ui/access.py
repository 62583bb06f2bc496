"""Who may see what: Airflow's own login and permissions, applied to the Hymir view.

The browser's login reaches the view as the ``_token`` cookie that Airflow's login page sets for
the whole site; API clients send ``Authorization: Bearer <token>``. Airflow's user dependency
accepts either (``hymir_airflow.compat.accept_login_cookie`` makes 3.0's do so), so the view never
reads a token itself. Every permission is asked of the configured auth manager: a run's jobs need
DAG-run, task-instance and XCom read on its DAG.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hymir_airflow import compat
from hymir_airflow.ui.render import render

#: The logged-in user, as a route parameter's annotation (HTTP 401 when nobody is logged in).
if TYPE_CHECKING:
    UserDep = Any
else:
    UserDep = compat.user_dependency()

#: What a user must be allowed to read on a DAG to see a run's jobs and their values.
RUN_ACCESS = [Depends(compat.dag_read_dependency(entity)) for entity in ("RUN", "TASK_INSTANCE", "XCOM")]


def readable_dag_ids(user: UserDep) -> set[str]:
    """The DAGs the logged-in user may read (HTTP 401 when nobody is logged in)."""
    return compat.readable_dag_ids(user)


ReadableDagIds = Annotated[set[str], Depends(readable_dag_ids)]


def runs_readable(user: Any, dag_ids: Iterable[str]) -> set[str]:
    """Those of ``dag_ids`` whose runs ``user`` may read (DAG-run read, asked of the auth manager)."""
    return compat.run_readable_dag_ids(user, dag_ids)


async def http_error(request: Request, error: HTTPException) -> Response:
    """Send a browser that is not logged in to Airflow's login page, and show it other errors as a page.

    On Airflow 3.0, whose UI keeps the login in the browser's storage (``compat.UI_LOGIN_STORAGE_KEY``), the
    browser first gets a page that hands that login back to the view, and goes to the login page without one.
    Other clients get Airflow's usual JSON error (401 when not logged in).
    """
    if "text/html" not in request.headers.get("accept", ""):
        return await http_exception_handler(request, error)
    if error.status_code == 401:
        login = compat.login_url(next_url=str(request.url))
        if compat.UI_LOGIN_STORAGE_KEY is None:
            return RedirectResponse(login, status_code=303)
        return render(request, "login.html", status_code=401, login=login, storage_key=compat.UI_LOGIN_STORAGE_KEY)
    return render(request, "error.html", status_code=error.status_code, code=error.status_code, detail=error.detail)
