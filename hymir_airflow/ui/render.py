"""HTML of the Hymir view: the Jinja templates of this package and the filters they use."""

from __future__ import annotations

import json
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


def as_json(value: Any) -> str:
    """A value as JSON, the way it travels through XCom and the task state store."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def last_line(text: str | None) -> str:
    """The last non-blank line of a traceback or message: the exception itself."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def moment(value: datetime | None) -> str:
    """A timestamp in UTC, to the second, as the Airflow UI shows it by default."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


_templates.filters.update(json=as_json, last_line=last_line, moment=moment)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` with ``context``; links are made relative to where the view is mounted."""
    root = request.scope.get("root_path", "")

    def run_url(dag_id: str, run_id: str) -> str:
        return f"{root}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"

    html = _templates.get_template(template).render(home=f"{root}/", run_url=run_url, **context)
    return HTMLResponse(html, status_code=status_code)
