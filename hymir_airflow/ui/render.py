"""HTML of the Hymir view: the Jinja templates of this package and the filters they use."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from hymir_airflow import compat

_templates = Environment(
    loader=PackageLoader("hymir_airflow.ui"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def last_line(text: str | None) -> str:
    """The last non-blank line of a traceback or message: the exception itself."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def moment(value: datetime | None) -> str:
    """A timestamp in UTC, to the second, as the Airflow UI shows it by default."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def breakable(name: str) -> Markup:
    """A dotted name, id or path (escaped) that a narrow table may wrap after its ``.``, ``_`` and ``/``."""
    return Markup(re.sub(r"([._/])", r"\1<wbr>", str(escape(name))))


_templates.filters.update(last_line=last_line, moment=moment, breakable=breakable)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` with ``context``.

    Links to the view's pages start where the view is mounted; links to the Airflow UI's pages start at the UI's
    base, which Airflow takes from the same request (``request.base_url``: the api-server's ``[api] base_url``
    path), so both hold when Airflow is served under a path.
    """
    root = request.scope.get("root_path", "")
    airflow_base = request.base_url.path

    def run_url(dag_id: str, run_id: str, *rest: str) -> str:
        """The run page, or with ``rest`` a path below it (``"status"``, ``"jobs", task_id, part``)."""
        parts = [dag_id, "runs", run_id, *rest]
        return f"{root}/dags/" + "/".join(quote(part, safe="") for part in parts)

    def airflow_url(**page: Any) -> str:
        """A page of the Airflow UI, named as ``compat.ui_page`` names it (``dag_id=...``, ``run_id=...``, ...)."""
        return airflow_base + compat.ui_page(**page)

    html = _templates.get_template(template).render(
        home=f"{root}/", run_url=run_url, airflow_url=airflow_url, **context
    )
    return HTMLResponse(html, status_code=status_code)
