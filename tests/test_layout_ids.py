"""The layout of a workflow (``hymir.layout``): ids, containers and finish line, alike in the CLI and on Airflow.

The first tests pin the layout object itself and need only the core; the last ones build the
Airflow DAG and run ``hymir graph`` on the same workflow and check that both name and nest its
parts alike and that ON_FINISHED follows the layout's finish line.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hymir import Chain, Group, Map, Workflow
from hymir.layout import Container, WorkflowLayout, first_free
from hymir_cli.graph import render
from tests.jobs import cli as cw
from tests.jobs import scenario as jobs
from tests.jobs.parity import größe

ROOT = Path(__file__).resolve().parents[1]
HYMIR = Path(sys.executable).parent / "hymir"


def nested() -> Workflow:
    """A Chain of a Group (with a Chain inside) and a count, with a report after everything."""
    workflow = Workflow(Chain(Group(jobs.shout("a"), Chain(jobs.shout("b"), jobs.produce(1))), jobs.count_words()))
    return workflow.on(Workflow.Callbacks.ON_FINISHED, jobs.report())


def diamond() -> Workflow:
    """A workflow from explicit edges: one job, two after it, one after both."""
    return Workflow.from_graph(
        {"a": jobs.produce(1), "b": jobs.tally("b"), "c": jobs.tally("c"), "d": jobs.double()},
        [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")],
    )


# --- the layout object ------------------------------------------------------------------------


def test_readable_ids_are_function_names_with_suffixes_on_clashes_callbacks_included():
    layout = WorkflowLayout.of(nested())

    assert layout.readable_ids == {
        "1": "shout",
        "2": "shout_2",
        "3": "produce",
        "4": "count_words",
        "5": "report",
    }


def test_a_function_name_that_is_not_an_ascii_id_gives_one():
    assert WorkflowLayout.of(Workflow(Chain(größe("wert"), größe("x")))).readable_ids == {"1": "groe", "2": "groe_2"}


def test_nested_containers_get_ids_members_and_parents():
    layout = WorkflowLayout.of(nested())

    inner = Container("chain_1", "chain", ("2", "3"), "group_1")
    outer = Container("group_1", "group", ("1", inner), None)
    assert layout.containers == {"group_1": outer, "chain_1": inner}
    assert list(layout.containers) == ["group_1", "chain_1"], "each container after the one it sits in"
    assert layout.top_level == (outer, "4")
    assert layout.container_of == {"1": "group_1", "2": "chain_1", "3": "chain_1"}


def test_container_ids_skip_the_ids_of_jobs():
    layout = WorkflowLayout.of(cw.clashing())

    assert [layout.readable_ids[job_id] for job_id in ("1", "2", "6", "8")] == [
        "group_1",
        "chain_1",
        "chain_1_2",
        "group_1_2",
    ]
    assert list(layout.containers) == ["group_2", "chain_2", "group_3", "chain_3", "group_4"]
    assert not set(layout.containers) & set(layout.readable_ids.values())


@pytest.mark.parametrize("workflow", [diamond, lambda: Workflow(jobs.produce(1))], ids=["from-edges", "one-job"])
def test_a_workflow_without_nested_containers_has_its_jobs_at_the_top_level(workflow):
    workflow = workflow()
    layout = WorkflowLayout.of(workflow)

    assert layout.top_level == tuple(workflow.jobs)
    assert layout.containers == {} and layout.container_of == {}


@pytest.mark.parametrize(
    "workflow, finish_line",
    [
        (nested, ("1", "3", "4")),
        (diamond, ("b", "c", "d")),
        (
            lambda: Workflow(Chain(jobs.produce(1), Group(jobs.tally("x"), Chain(jobs.tally("y"), jobs.double())))),
            ("2", "4"),
        ),
        (lambda: Workflow(Group(jobs.produce(1), jobs.produce(2))), ("1", "2")),
        (
            lambda: Workflow(Chain(jobs.produce(1), Map(jobs.shout(), over=("value", "word")), jobs.tally("x"))),
            ("2", "3"),
        ),
    ],
    ids=["nested", "diamond", "chain-ending-in-a-group", "group", "map"],
)
def test_the_finish_line_is_the_leaves_the_predecessors_of_fan_ins_and_the_maps(workflow, finish_line):
    """A job after several, or after a Map's items, may be decided before they all end: they are awaited too."""
    assert WorkflowLayout.of(workflow()).finish_line == finish_line


def test_free_ids_for_an_engines_own_tasks_avoid_the_jobs_ids():
    layout = WorkflowLayout.of(Workflow(Chain(jobs.produce(1), jobs.produce(2), jobs.tally("x"))))

    assert layout.free_id("hymir_records") == "hymir_records"
    assert layout.free_id("produce") == "produce_3"
    assert layout.free_id("produce") == "produce_3", "asking again takes nothing"
    assert layout.free_id("tally") == "tally_2"


def test_first_free_counts_from_the_bare_name():
    assert first_free("hymir_records", set()) == "hymir_records"
    assert first_free("hymir_records", {"hymir_records", "hymir_records_2"}) == "hymir_records_3"


def test_the_layout_is_kept_on_the_workflow_until_a_callback_is_added():
    workflow = Workflow(Chain(jobs.produce(1), jobs.report()))
    layout = WorkflowLayout.of(workflow)

    assert WorkflowLayout.of(workflow) is layout
    workflow.on(Workflow.Callbacks.ON_FINISHED, jobs.report())
    assert WorkflowLayout.of(workflow).readable_ids == {"1": "produce", "2": "report", "3": "report_2"}
    assert layout.readable_ids == {"1": "produce", "2": "report"}, "a layout never changes"


def test_the_graph_names_its_subgraphs_like_the_layouts_containers():
    workflow = cw.clashing()

    shown = re.findall(r"subgraph (\w+) ", render(workflow, "mermaid"))

    assert shown == list(WorkflowLayout.of(workflow).containers)


# --- the same layout in `hymir graph` and on Airflow ------------------------------------------


def graph_nesting(mermaid: str) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """From ``hymir graph`` output: each subgraph's parent subgraph, and each job's innermost (None: none)."""
    parents: dict[str, str | None] = {}
    innermost: dict[str, str | None] = {}
    open_subgraphs: list[str] = []
    for line in mermaid.splitlines():
        line = line.strip()
        if subgraph := re.fullmatch(r'subgraph (\w+) \["\w+"\]', line):
            parents[subgraph[1]] = open_subgraphs[-1] if open_subgraphs else None
            open_subgraphs.append(subgraph[1])
        elif line == "end":
            open_subgraphs.pop()
        elif node := re.match(r'job_\d+\(?\["([^:]+):', line):
            innermost[node[1]] = open_subgraphs[-1] if open_subgraphs else None
    return parents, innermost


def dag_nesting(dag) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """From an Airflow DAG: each TaskGroup's parent TaskGroup, and each Hymir job's innermost (None: the root)."""
    groups = {group_id: group for group_id, group in dag.task_group.get_task_group_dict().items() if group_id}
    parents = {group_id: group.parent_group.group_id for group_id, group in groups.items()}
    innermost = {task.hymir_job_id: task.task_group.group_id for task in dag.tasks if hasattr(task, "hymir_job_id")}
    return parents, innermost


@pytest.mark.airflow
def test_hymir_graph_and_the_dag_name_and_nest_containers_alike_when_jobs_are_named_group_1_and_chain_1():
    pytest.importorskip("airflow.sdk")
    from hymir_airflow import workflow_to_dag

    done = subprocess.run(
        [str(HYMIR), "graph", "tests.jobs.cli:clashing"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    dag = workflow_to_dag(cw.clashing(), dag_id="clashing")

    assert graph_nesting(done.stdout) == dag_nesting(dag)
    parents, innermost = dag_nesting(dag)
    assert parents == {"group_2": None, "chain_2": "group_2", "group_3": None, "chain_3": "group_3", "group_4": None}
    assert (innermost["1"], innermost["2"]) == ("group_2", "chain_2"), "the jobs named group_1 and chain_1"


@pytest.mark.airflow
@pytest.mark.parametrize("workflow", [nested, cw.clashing, diamond], ids=["nested", "clashing", "diamond"])
def test_on_finished_and_the_fail_fast_gate_follow_the_layouts_finish_line(workflow):
    pytest.importorskip("airflow.sdk")
    from hymir_airflow import workflow_to_dag
    from hymir_airflow.fail_fast import FAIL_FAST_TASK_ID

    workflow = workflow().on(Workflow.Callbacks.ON_FINISHED, cw.report())
    layout = WorkflowLayout.of(workflow)
    finish_line = {layout.readable_ids[job_id] for job_id in layout.finish_line}

    dag = workflow_to_dag(workflow, dag_id="finish_line")

    followers = [layout.readable_ids[callback_id] for callback_id in workflow.callback_ids()]
    if workflow.fail_fast:
        followers.append(FAIL_FAST_TASK_ID)
    for task_id in followers:
        assert dag.get_task(task_id).upstream_task_ids == finish_line, task_id


@pytest.mark.airflow
def test_the_view_finds_the_records_holder_the_factory_names():
    """Before Airflow 3.3 the view reads the records from the task the factory chose, also when a job took its id."""
    pytest.importorskip("airflow.sdk")
    from hymir_airflow import workflow_to_dag
    from hymir_airflow.compat import RECORDS_TASK_ID
    from hymir_airflow.ui.queries import _hymir_tasks, _records_holder
    from tests.jobs import adapter as adapter_jobs

    workflow = Workflow(Chain(adapter_jobs.hymir_records(), jobs.produce(1)))
    dag = workflow_to_dag(workflow, dag_id="holder")

    assert _records_holder(_hymir_tasks(dag)) == WorkflowLayout.of(workflow).free_id(RECORDS_TASK_ID)
    assert _records_holder(_hymir_tasks(dag)) == "hymir_records_2"
