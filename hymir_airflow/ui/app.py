"""The FastAPI app of the Hymir view, which the plugin mounts in the api-server under ``/hymir``."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.exceptions import HTTPException

from hymir_airflow import compat
from hymir_airflow.ui.access import http_error
from hymir_airflow.ui.pages import router


def create_app() -> FastAPI:
    """The Hymir view: HTML pages only, each behind Airflow's login."""
    app = FastAPI(title="Hymir", docs_url=None, redoc_url=None, openapi_url=None)
    # Serialized DAGs, cached as the api-server caches its own (the pages' dag_bag parameter reads them here).
    app.state.dag_bag = compat.new_dag_bag()
    compat.accept_login_cookie(app)
    # Starlette types every handler as taking any Exception; this one is registered for HTTPException only.
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.include_router(router)
    return app
