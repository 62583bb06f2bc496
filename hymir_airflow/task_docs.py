"""The docs of a Hymir job's task: the function's docstring, then a line naming the job, readable over REST.

Airflow's REST API shows a task's ``doc_md`` (``GET /api/v2/dags/{dag_id}/tasks``) but none of
the fields Hymir adds to the serialized task (``hymir_job_id``, ...). So the task's docs end with
one line that names the job and its function, ``Hymir job "3" runs `pkg.module.function`.``: the
UI shows it among the task's details, and ``AirflowDeploymentExecutor`` reads it back to learn
which job each deployed task runs.
"""

from __future__ import annotations

import json
import re

#: What a unit's task names as its function in its docs' last line and its serialized fields.
UNIT_FUNCTION = "hymir.Unit"

#: The last line of a job task's docs; the job id is a JSON string, so any identity fits on the line.
_JOB_LINE = re.compile(r'Hymir job ("(?:[^"\\]|\\.)*") runs `([^`]+)`\.')


def job_doc(docstring: str | None, job_id: str, function: str) -> str:
    """The ``doc_md`` of the task running job ``job_id`` (of ``function``): its docstring, then the job line."""
    line = f"Hymir job {json.dumps(job_id)} runs `{function}`."
    return f"{docstring}\n\n{line}" if docstring else line


def job_of(doc: str | None) -> tuple[str, str] | None:
    """The job id and function that a task's docs name in their last line; None for a task running no job."""
    if not doc:
        return None
    match = _JOB_LINE.fullmatch(doc.rsplit("\n", 1)[-1])
    if match is None:
        return None
    job_id: str = json.loads(match[1])
    return job_id, match[2]
