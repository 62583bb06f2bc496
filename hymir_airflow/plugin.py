"""The Airflow plugin, registered through the ``airflow.plugins`` entry point.

It adds the Hymir view to the api-server (a FastAPI app under ``/hymir``) and, on Airflow 3.1+
(which brought plugins' ``external_views``), a "Hymir" entry to the navigation bar of the Airflow
UI and a "Hymir" tab to its DAG-run page, which show that view inside the UI. On 3.0 the view is
reached at ``/hymir/`` directly.

Every Airflow component loads plugins, task processes included, so this module stays cheap to
import: the view itself is built on its first request, in the api-server only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from hymir_airflow.compat import HAS_EXTERNAL_VIEWS, airflow_plugin_class

#: Where the api-server mounts the Hymir view.
URL_PREFIX = "/hymir"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

if TYPE_CHECKING:
    from hymir_airflow.compat import AirflowPlugin
else:
    AirflowPlugin = airflow_plugin_class()

#: The "Hymir" entry of the Airflow UI's navigation bar, which shows the view inside the UI.
NAV_ENTRY = {
    "name": "Hymir",
    # Relative to the UI's <base href>, so it also holds when Airflow is served under a path.
    "href": "hymir/",
    "url_route": "hymir",
    "destination": "nav",
    "nav_top_level": True,
}

#: The "Hymir" tab of the Airflow UI's DAG-run page, which shows the view's page of that run: the UI fills in
#: the run's ids, and lists the tab only when it has a ``url_route`` (one of its own, or it would show the entry).
RUN_TAB = {
    "name": "Hymir",
    "href": "hymir/dags/{DAG_ID}/runs/{RUN_ID}",
    "url_route": "hymir-run",
    "destination": "dag_run",
}


class HymirView:
    """The ASGI app of the Hymir view, built from ``hymir_airflow.ui`` when it is first called."""

    def __init__(self) -> None:
        self._app: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            from hymir_airflow.ui.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class HymirPlugin(AirflowPlugin):
    """Shows Hymir workflows in the Airflow UI: their runs, and every job's state, tries, context and outputs."""

    name = "hymir"
    fastapi_apps = [{"app": HymirView(), "url_prefix": URL_PREFIX, "name": "Hymir"}]  # noqa: RUF012 (AirflowPlugin declares a list)
    external_views = [NAV_ENTRY, RUN_TAB] if HAS_EXTERNAL_VIEWS else []
