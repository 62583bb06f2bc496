"""HTML of the Hymir view: the Jinja templates of this package and the filters they use."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

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


_templates.filters.update(last_line=last_line, moment=moment)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` with ``context``; links are made relative to where the view is mounted."""
    root = request.scope.get("root_path", "")

    def run_url(dag_id: str, run_id: str, *rest: str) -> str:
        """The run page, or with ``rest`` a path below it (``"status"``, ``"jobs", task_id, part``)."""
        parts = [dag_id, "runs", run_id, *rest]
        return f"{root}/dags/" + "/".join(quote(part, safe="") for part in parts)

    html = _templates.get_template(template).render(home=f"{root}/", run_url=run_url, **context)
    return HTMLResponse(html, status_code=status_code)
