"""The workflow graph as Mermaid or Graphviz DOT text, for docs, reviews and ``dot -Tsvg``.

Nodes are jobs labelled with their identity, function name and output; edges come from
``Workflow.dependencies``. Nested Chains and Groups become subgraphs with the ids the Airflow
TaskGroups get (``chain_1``, ``group_1``, ... from ``hymir.layout``); the outermost container
is the whole graph and gets none, nor does a workflow built from explicit edges. ON_FINISHED
callbacks hang with dashed edges off the layout's finish line, the jobs whose end is every job's
end. A mapped job is drawn as a stack of boxes (one per item at run time) labelled with what it
goes over. A unit is the subgraph of the Chain or Group it holds, labelled with the unit's id and
retries (a unit around the whole workflow gets a subgraph of its own).
"""

from __future__ import annotations

from dataclasses import dataclass

from hymir.labels import call_label
from hymir.layout import Container, WorkflowLayout
from hymir.workflow import Workflow


@dataclass(frozen=True)
class _Syntax:
    """How one text format writes nodes, subgraphs and edges (``str.format`` templates)."""

    header: tuple[str, ...]
    footer: tuple[str, ...]
    node: str
    mapped_node: str
    callback_node: str
    open_subgraph: str
    close_subgraph: str
    edge: str
    dashed_edge: str
    newline: str
    escapes: tuple[tuple[str, str], ...]

    def label(self, lines: list[str]) -> str:
        """Lines of a label, escaped for a double-quoted string and joined by the format's line break."""
        escaped = []
        for line in lines:
            for old, new in self.escapes:
                line = line.replace(old, new)
            escaped.append(line)
        return self.newline.join(escaped)


MERMAID = _Syntax(
    header=("flowchart TD",),
    footer=(),
    node='{id}["{label}"]',
    mapped_node='{id}[["{label}"]]',
    callback_node='{id}(["{label}"])',
    open_subgraph='subgraph {id} ["{label}"]',
    close_subgraph="end",
    edge="{upstream} --> {downstream}",
    dashed_edge="{upstream} -.-> {downstream}",
    newline="<br/>",
    escapes=(('"', "#quot;"),),
)

DOT = _Syntax(
    header=("digraph workflow {", "    node [shape=box];"),
    footer=("}",),
    node='{id} [label="{label}"];',
    mapped_node='{id} [label="{label}", shape=box3d];',
    callback_node='{id} [label="{label}", style="rounded,dashed"];',
    open_subgraph='subgraph cluster_{id} {{ label="{label}";',
    close_subgraph="}",
    edge="{upstream} -> {downstream};",
    dashed_edge="{upstream} -> {downstream} [style=dashed];",
    newline="\\n",
    escapes=(("\\", "\\\\"), ('"', '\\"')),
)

#: The ``--format`` choices of ``hymir graph``.
FORMATS = {"mermaid": MERMAID, "dot": DOT}


def render(workflow: Workflow, fmt: str) -> str:
    """The graph of ``workflow`` as text in ``fmt`` (a key of ``FORMATS``)."""
    syntax = FORMATS[fmt]
    layout = WorkflowLayout.of(workflow)
    ids = {job_id: f"job_{n}" for n, job_id in enumerate(layout.readable_ids, start=1)}
    bodies = {body: unit_id for unit_id, body in layout.unit_bodies.items()}
    body = [line for member in layout.top_level for line in _members(workflow, member, ids, syntax, bodies)]
    structure = workflow.structure
    for unit_id in [unit_id for unit_id in workflow.units if unit_id not in layout.unit_bodies]:
        # Only a unit around the whole workflow holds no nested Chain or Group: it holds the outermost one.
        kind = structure[0].capitalize() if isinstance(structure, tuple) else "Chain"
        opening = syntax.open_subgraph.format(id=unit_id, label=_unit_label(workflow, unit_id, kind))
        body = [opening, *("    " + line for line in body), syntax.close_subgraph]
    for event, callbacks in workflow.callbacks.items():
        for callback in callbacks:
            callback_id = str(callback.identity)
            label = _label(workflow, callback_id, syntax, event.value)
            body.append(syntax.callback_node.format(id=ids[callback_id], label=label))
    for job_id, predecessors in workflow.dependencies:
        body += [syntax.edge.format(upstream=ids[up], downstream=ids[job_id]) for up in predecessors]
    for callback_id in workflow.callback_ids():
        body += [
            syntax.dashed_edge.format(upstream=ids[job_id], downstream=ids[callback_id])
            for job_id in layout.finish_line
        ]
    return "\n".join([*syntax.header, *("    " + line for line in body), *syntax.footer])


def _members(
    workflow: Workflow, member: str | Container, ids: dict[str, str], syntax: _Syntax, bodies: dict[str, str]
) -> list[str]:
    """The lines of one part of the layout: a job's node, or a subgraph around a container's (or unit's) members.

    ``bodies`` names the unit that holds each container a unit holds.
    """
    if isinstance(member, str):
        mapped = workflow.maps.get(member)
        if mapped is None:
            return [syntax.node.format(id=ids[member], label=_label(workflow, member, syntax))]
        over = f"for each item of {mapped.output}"
        if mapped.max_active is not None:
            over += f", {mapped.max_active} at once"
        return [syntax.mapped_node.format(id=ids[member], label=_label(workflow, member, syntax, over))]
    label = member.kind.capitalize()
    if member.id in bodies:
        label = _unit_label(workflow, bodies[member.id], label)
    lines = [syntax.open_subgraph.format(id=member.id, label=label)]
    for child in member.members:
        lines += ["    " + line for line in _members(workflow, child, ids, syntax, bodies)]
    return [*lines, syntax.close_subgraph]


def _unit_label(workflow: Workflow, unit_id: str, kind: str) -> str:
    """``Unit unit_1: Chain, one task, retries=2``."""
    return f"Unit {unit_id}: {kind}, one task, retries={workflow.units[unit_id].retries}"


def _label(workflow: Workflow, job_id: str, syntax: _Syntax, *extra: str) -> str:
    """``<id>: <call>`` (``uppercase("hello")``), then ``output: <name>`` when the job has one, then ``extra``."""
    job = workflow[job_id]
    lines = [f"{job_id}: {call_label(job)}"]
    if job.output is not None:
        lines.append(f"output: {job.output}")
    return syntax.label([*lines, *extra])
