"""The drop-in Airflow DAG file for a workflow, written as Python source without importing Airflow.

The file imports the workflow (calling it when it is a factory function) and hands it to
``hymir_airflow.workflow_to_dag``. Its text contains "airflow" and "dag", which Airflow's
safe mode needs to see before it parses a file in the dags folder.
"""

from __future__ import annotations

import json
import textwrap
from datetime import date

from hymir_cli.loading import Target

#: Width of the generated file: a longer ``workflow_to_dag(...)`` call gets one argument a line.
LINE_LENGTH = 100


def dag_file(target: Target, *, dag_id: str, schedule: str | None = None, start_date: date | None = None) -> str:
    """Python source of a DAG file that builds ``target``'s workflow as the DAG ``dag_id``."""
    arguments = [f"{target.attribute}()" if target.is_factory else target.attribute, f"dag_id={_string(dag_id)}"]
    imports = sorted(["from hymir_airflow import workflow_to_dag", f"from {target.module} import {target.attribute}"])
    if schedule is not None:
        arguments.append(f"schedule={_string(schedule)}")
    if start_date is not None:
        imports.insert(0, "from datetime import datetime, timezone\n")
        day = f"{start_date.year}, {start_date.month}, {start_date.day}"
        arguments.append(f"start_date=datetime({day}, tzinfo=timezone.utc)")
    call = f"dag = workflow_to_dag({', '.join(arguments)})"
    if len(call) > LINE_LENGTH:
        call = "dag = workflow_to_dag(\n" + "".join(f"    {argument},\n" for argument in arguments) + ")"
    about = textwrap.fill(
        f"It runs the Hymir workflow {target.spec}. Put this file in the dags folder of an Airflow deployment "
        f"where hymir-workflows[airflow] and {target.module} can be imported.",
        width=LINE_LENGTH - 4,
        break_long_words=False,
    )
    header = [f'"""Airflow DAG {dag_id}, written by `hymir dag`.', "", about, '"""', ""]
    return "\n".join([*header, *imports, "", call, ""])


def _string(value: str) -> str:
    """A double-quoted Python string literal of ``value`` (JSON's escapes are Python's too)."""
    return json.dumps(value)
