"""Reading what hymir 0.1.9 wrote: its compact job dicts and its networkx node-link workflows.

hymir 0.1.9 is the original library whose ``hymir.job`` API this project implements. These
functions only translate its serialized forms into this project's; ``Job.deserialize`` and
``Workflow.deserialize`` then check the result as they check their own, so malformed data
raises the same ``InvalidWorkflow`` whichever form it came in.
"""

from __future__ import annotations

from typing import Any

from hymir.errors import InvalidWorkflow

#: hymir 0.1.9's one-character job keys, and the field each stands for.
COMPACT_JOB_KEYS = {"n": "name", "i": "identity", "a": "args", "k": "kwargs", ">": "output", "<": "inputs", "m": "meta"}


def job_fields(data: dict[str, Any]) -> dict[str, Any]:
    """A serialized job under this project's keys: 0.1.9's compact keys translated, any other dict unchanged.

    0.1.9's ``@job`` wrote ``[]`` for "no inputs" and ``{}`` for "no meta"; they are read as None,
    which is what this project's ``@job`` gives, so the same job reads back equal.
    """
    compact = [key for key in data if key in COMPACT_JOB_KEYS]
    if not compact:
        return data
    others = [key for key in data if key not in COMPACT_JOB_KEYS]
    if others:
        raise InvalidWorkflow(
            f"serialized job {data.get('n')!r} mixes hymir 0.1.9 keys {compact} with other keys {others}"
        )
    fields = {COMPACT_JOB_KEYS[key]: value for key, value in data.items()}
    if fields.get("inputs") == []:
        fields["inputs"] = None
    if fields.get("meta") == {}:
        fields["meta"] = None
    return fields


def is_workflow(data: dict[str, Any]) -> bool:
    """True for a workflow serialized by 0.1.9: networkx node-link data, which has no format version."""
    return "version" not in data and "nodes" in data


def workflow_fields(data: dict[str, Any], version: int) -> dict[str, Any]:
    """A 0.1.9 workflow (node-link data) as this project's serialized form of format ``version``.

    networkx wrote the edges under "links" before 3.4 and under "edges" since; both are read.
    Each node's id is its job's identity; the one callback per event becomes a list of one.
    """
    nodes = data.get("nodes")
    links = data["links"] if "links" in data else data.get("edges")
    callbacks = data.get("callbacks", {})
    if not isinstance(nodes, list) or not isinstance(links, list) or not isinstance(callbacks, dict):
        raise InvalidWorkflow(
            "a workflow serialized by hymir 0.1.9 needs a 'nodes' list, a 'links' (or 'edges') list "
            "and a 'callbacks' object"
        )
    jobs = []
    for node in nodes:
        if not (isinstance(node, dict) and isinstance(node.get("id"), str) and isinstance(node.get("job"), dict)):
            raise InvalidWorkflow(f"hymir 0.1.9 workflow node {node!r} needs a string 'id' and a 'job' object")
        jobs.append({**job_fields(node["job"]), "identity": node["id"]})
    edges = []
    for link in links:
        if not (isinstance(link, dict) and "source" in link and "target" in link):
            raise InvalidWorkflow(f"hymir 0.1.9 workflow edge {link!r} needs a 'source' and a 'target'")
        edges.append([link["source"], link["target"]])
    return {
        "version": version,
        "jobs": jobs,
        "edges": edges,
        "callbacks": {event: [job] for event, job in callbacks.items()},
    }
