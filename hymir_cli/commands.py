"""The ``hymir`` command group: validate, graph, run and dag, each given a ``MODULE:WORKFLOW``.

Exit codes: 0 when all went well, 1 when the workflow is invalid or its run failed, 2 when the
command line is wrong (including a ``MODULE:WORKFLOW`` that names no workflow).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from hymir.errors import InvalidWorkflow
from hymir.executor import WorkflowState, WorkflowStatus
from hymir.executors import LocalExecutor
from hymir_cli.dagfile import dag_file
from hymir_cli.graph import FORMATS, render
from hymir_cli.loading import Target, TargetError, load_target
from hymir_cli.problems import find_problems
from hymir_cli.report import run_report

#: How often ``hymir run`` updates its progress bar (seconds).
POLL_INTERVAL = 0.1

#: The characters Airflow accepts in a DAG id.
_DAG_ID = re.compile(r"[\w.-]{1,250}", re.ASCII)

_TARGET_HELP = (
    "MODULE:WORKFLOW names an importable module (the current directory is on the path) and in it "
    "a Workflow, or a function that returns one when called without arguments."
)


@click.group(epilog=_TARGET_HELP)
@click.version_option(package_name="hymir-workflows", prog_name="hymir")
def main() -> None:
    """Validate, draw, run and deploy Hymir workflows."""


@contextmanager
def _naming_a_workflow() -> Iterator[None]:
    """Report a MODULE:WORKFLOW that names no workflow as a usage error (exit 2)."""
    try:
        yield
    except TargetError as error:
        raise click.BadParameter(str(error), param_hint="MODULE:WORKFLOW") from None


def _load(spec: str) -> Target:
    """The target of a command that needs a valid workflow; an invalid one ends the command (exit 1)."""
    with _naming_a_workflow():
        try:
            return load_target(spec)
        except InvalidWorkflow as error:
            raise click.ClickException(
                f"{spec} is not a valid workflow: {error.problems[0]}\nRun `hymir validate {spec}` to list every error."
            ) from None


@main.command(epilog=_TARGET_HELP)
@click.argument("spec", metavar="MODULE:WORKFLOW")
def validate(spec: str) -> None:
    """Check a workflow; list every validation error and exit 1 if it has any."""
    with _naming_a_workflow():
        target, errors = find_problems(spec)
    if errors or target is None:
        click.echo(f"{spec} is not a valid workflow ({_plural(len(errors), 'error')}):")
        for error in errors:
            click.echo(f"  - {error}")
        sys.exit(1)
    jobs, callbacks = len(target.workflow), len(target.workflow.callback_ids())
    maps = len(target.workflow.maps)
    summary = _plural(jobs, "job") + (f" ({maps} mapped)" if maps else "")
    summary += f" and {_plural(callbacks, 'callback')}" if callbacks else ""
    click.echo(f"OK: {spec} is a valid workflow of {summary}")


def _plural(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


@main.command(epilog=_TARGET_HELP)
@click.argument("spec", metavar="MODULE:WORKFLOW")
@click.option(
    "--format", "fmt", type=click.Choice(list(FORMATS)), default="mermaid", show_default=True, help="Text format."
)
def graph(spec: str, fmt: str) -> None:
    """Print the workflow's graph as Mermaid or Graphviz DOT text.

    Nested Chains and Groups are subgraphs; ON_FINISHED callbacks hang off the last jobs with
    dashed edges. Render DOT with e.g. `hymir graph ... --format dot | dot -Tsvg > graph.svg`.
    """
    click.echo(render(_load(spec).workflow, fmt))


def _params(context: click.Context, parameter: click.Parameter, values: tuple[str, ...]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs as a dict; each VALUE is JSON when it parses as JSON, else the text itself."""
    params: dict[str, Any] = {}
    for item in values:
        name, equals, text = item.partition("=")
        if not equals or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE")
        try:
            params[name] = json.loads(text)
        except ValueError:
            params[name] = text
    return params


@main.command(epilog=_TARGET_HELP)
@click.argument("spec", metavar="MODULE:WORKFLOW")
@click.option(
    "--max-workers", type=click.IntRange(min=1), default=8, show_default=True, help="Jobs that may run at once."
)
@click.option("-v", "--verbose", is_flag=True, help="Log each job's result, and tracebacks, to stderr as they happen.")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    callback=_params,
    metavar="NAME=VALUE",
    help="Override a workflow param for this run; VALUE is read as JSON (42, true, [1, 2]), else taken as text.",
)
def run(spec: str, max_workers: int, verbose: bool, params: dict[str, Any]) -> None:
    """Run the workflow in this process (LocalExecutor) and print every job's outcome.

    Exits 1 when the workflow fails.
    """
    workflow = _load(spec).workflow
    try:
        workflow.resolve_params(params)
    except InvalidWorkflow as error:
        raise click.BadParameter(str(error), param_hint="--param") from None
    if verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    else:  # the table shows each outcome; keep the executor's tracebacks off the progress bar
        logging.getLogger("hymir").addHandler(logging.NullHandler())
    with LocalExecutor(max_workers=max_workers) as executor:
        run_id = executor.run(workflow, params=params)
        state = _wait_showing_progress(executor, run_id, label=f"running {spec}")
        click.echo(run_report(workflow, executor.job_states(run_id), state, executor.outputs(run_id)))
    if state.status is not WorkflowStatus.SUCCESS:
        sys.exit(1)


def _wait_showing_progress(executor: LocalExecutor, run_id: str, *, label: str) -> WorkflowState:
    """Wait for the run (callbacks included), drawing finished/total jobs as a progress bar on stderr."""
    _, total = executor.progress(run_id)
    with click.progressbar(length=total, label=label, show_pos=True, file=sys.stderr) as bar:
        while True:
            try:
                state = executor.wait(run_id, timeout=POLL_INTERVAL)
            except TimeoutError:
                state = None
            finished, _ = executor.progress(run_id)
            bar.update(finished - bar.pos)
            if state is not None:
                return state


def _dag_id(context: click.Context, parameter: click.Parameter, value: str) -> str:
    """Refuse, before anything is loaded, a DAG id that Airflow would refuse."""
    if not _DAG_ID.fullmatch(value):
        raise click.BadParameter(f"{value!r}: a DAG id is made of letters, digits, '_', '-' and '.'")
    return value


@main.command(epilog=_TARGET_HELP)
@click.argument("spec", metavar="MODULE:WORKFLOW")
@click.option("--dag-id", required=True, callback=_dag_id, help="The DAG's id in Airflow.")
@click.option("--schedule", help="A cron expression or preset such as @daily; without it the DAG runs when triggered.")
@click.option("--start-date", type=click.DateTime(["%Y-%m-%d"]), help="First day (UTC) the schedule covers.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the file here instead of printing it; nothing is written when the workflow is invalid.",
)
def dag(spec: str, dag_id: str, schedule: str | None, start_date: datetime | None, output: Path | None) -> None:
    """Print (or write, with -o) a drop-in Airflow DAG file that runs the workflow.

    Save it into the dags folder of an Airflow deployment where hymir-workflows[airflow] and the
    workflow's module can be imported, e.g. `hymir dag ... --dag-id nightly -o dags/nightly.py`.
    """
    target = _load(spec)
    day = None if start_date is None else start_date.date()
    text = dag_file(target, dag_id=dag_id, schedule=schedule, start_date=day)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)
