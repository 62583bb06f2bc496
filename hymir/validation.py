"""Checks a workflow's jobs when it is built: functions, arguments, meta, outputs and inputs.

Every job is checked, and one ``InvalidWorkflow`` lists every problem found (``problems``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hymir.binding import InputBinding
from hymir.errors import InvalidWorkflow, JobNotImportable
from hymir.job import RESERVED_INPUTS, RETRY_LIMIT, Job, input_parameter, resolve_function
from hymir.jsonsafe import json_problem
from hymir.labels import describe
from hymir.mapping import Map
from hymir.signatures import FunctionSignature, binding_problem, signature_of


def validate_retry_cap(value: Any) -> str | None:
    """Why ``value`` is not a valid cap of retries, or None when it is one."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= RETRY_LIMIT:
        return None
    return f"max_retries must be a whole number from 0 to {RETRY_LIMIT}, not {value!r}"


def _check_output_name(job: Job) -> None:
    if job.output is not None and not isinstance(job.output, str):
        raise InvalidWorkflow(f"{describe(job)}: output {job.output!r} must be a string (the output's name)")


def _function_of(job: Job) -> Callable[..., Any]:
    try:
        return resolve_function(job.name)
    except JobNotImportable as error:
        raise InvalidWorkflow(f"{describe(job)}: {error}") from None


def _check_job(
    job: Job,
    producers_of: Callable[[Job, str], tuple[str, ...]],
    params: Mapping[str, Any],
    maps: Mapping[str, Map],
) -> list[InputBinding]:
    """Check one job's function, arguments and inputs; return its input bindings.

    ``producers_of(job, output)`` gives the producers that run before this job, or raises
    ``InvalidWorkflow`` itself when a producer does not. Names in ``params`` (the workflow's
    parameters) count as produced before every job. ``maps`` are the workflow's Maps by mapped
    job: a mapped job's items each get one item of the list it goes over, and a consumer of a
    mapped job's output gets the list of its items' values.
    """
    function = _function_of(job)
    problem = json_problem(list(job.args), "args") or json_problem(job.kwargs, "kwargs")
    if problem:
        raise InvalidWorkflow(f"{describe(job)}: argument {problem}")
    if job.meta is not None:
        problem = json_problem(job.meta, "meta") if isinstance(job.meta, dict) else "meta is not a dict"
        if problem:
            raise InvalidWorkflow(f"{describe(job)}: {problem}")
        if job.meta.get("max_retries") is not None:
            problem = validate_retry_cap(job.meta["max_retries"])
            if problem:
                raise InvalidWorkflow(f"{describe(job)}: meta {problem}")
    _check_output_name(job)
    if job.output in RESERVED_INPUTS:
        raise InvalidWorkflow(f"{describe(job)}: output {job.output!r} is a reserved input name; choose another")
    info = signature_of(function)
    bindings: list[InputBinding] = []
    mapped = maps.get(str(job.identity))
    if mapped is not None:
        bindings.append(_item_binding(job, mapped, info, producers_of, params, maps))
    for entry in job.inputs or ():
        output, parameter = input_parameter(entry)
        if parameter in job.kwargs:
            continue  # a keyword argument given to the job wins over its input, as in hymir 0.1.9
        where = f"{describe(job)}: input {output!r}"
        if parameter != output:
            where += f" (parameter {parameter!r})"
        if any(b.parameter == parameter for b in bindings):
            raise InvalidWorkflow(f"{where}: parameter {parameter!r} is fed by more than one input")
        if parameter not in info.signature.parameters and not info.accepts_any_keyword:
            raise InvalidWorkflow(
                f"{where}: the function {function.__name__}{info.signature} has no parameter {parameter!r}"
            )
        many = parameter in info.list_parameters
        if output in RESERVED_INPUTS or output in params:
            bindings.append(InputBinding(output, parameter, None, many=False))
            continue
        producers = producers_of(job, output)
        if not producers:
            raise InvalidWorkflow(f"{where}: no job produces it (no job has output={output!r})")
        if len(producers) > 1 and not many:
            raise InvalidWorkflow(
                f"{where}: it has {len(producers)} producers (jobs {', '.join(producers)}) but parameter "
                f"{parameter!r} takes one value; annotate it as list[...] to receive every value"
            )
        mapped_producers = [producer for producer in producers if producer in maps]
        if mapped_producers and not many:
            raise InvalidWorkflow(
                f"{where}: job {mapped_producers[0]} is mapped, so its output has one value per item, but "
                f"parameter {parameter!r} takes one value; annotate it as list[...] to receive the items' values"
            )
        if len(producers) == 1 and parameter in info.bare_list_parameters:
            warnings.warn(
                f"{where}: parameter {parameter!r} is annotated as a bare list, so it receives the list of "
                f"every value of {output!r} (here one, from job {producers[0]}), not the value itself; "
                "annotate it as list[...] to say so, or with the value's type to receive the value",
                UserWarning,
                stacklevel=1,  # the message names the job; the frames above are Hymir's own
            )
        bindings.append(InputBinding(output, parameter, producers, many))
    keywords = (*job.kwargs, *(b.parameter for b in bindings)) if bindings else tuple(job.kwargs)
    problem = binding_problem(function, len(job.args), keywords)
    if problem:
        raise InvalidWorkflow(
            f"{describe(job)}: its arguments and inputs do not fit {function.__name__}{info.signature}: {problem}"
        )
    return bindings


def _item_binding(
    job: Job,
    mapped: Map,
    info: FunctionSignature,
    producers_of: Callable[[Job, str], tuple[str, ...]],
    params: Mapping[str, Any],
    maps: Mapping[str, Map],
) -> InputBinding:
    """The binding of the input a mapped job goes over: one job's list output, one item per item of the job."""
    output, parameter = mapped.output, mapped.parameter
    where = f"{describe(job)}: Map over {output!r}" + (f" (parameter {parameter!r})" if parameter != output else "")
    if output in RESERVED_INPUTS or output in params:
        raise InvalidWorkflow(f"{where}: a Map goes over a job's output, and {output!r} is a param or reserved input")
    if parameter in job.kwargs or any(input_parameter(entry)[1] == parameter for entry in job.inputs or ()):
        raise InvalidWorkflow(f"{where}: parameter {parameter!r} is also given as an argument or another input")
    if parameter not in info.signature.parameters and not info.accepts_any_keyword:
        function = resolve_function(job.name)
        shown = f"{function.__name__}{info.signature}"
        raise InvalidWorkflow(f"{where}: the function {shown} has no parameter {parameter!r}")
    producers = producers_of(job, output)
    if not producers:
        raise InvalidWorkflow(f"{where}: no job produces it (no job has output={output!r})")
    if len(producers) > 1:
        raise InvalidWorkflow(
            f"{where}: it has {len(producers)} producers (jobs {', '.join(producers)}); a Map goes over the list "
            "of one job"
        )
    if producers[0] in maps:
        raise InvalidWorkflow(
            f"{where}: its producer, job {producers[0]}, is mapped too; a Map goes over the list of a job that "
            "is not mapped (have a job gather the items' values first)"
        )
    return InputBinding(output, parameter, producers, many=False, each=True)


def validate_params(params: Any, jobs: Mapping[str, Job]) -> dict[str, Any]:
    """Check a workflow's parameters (name -> JSON-safe default) and return them as a dict.

    Runs first, so it also checks that every output name is a string.
    """
    for job in jobs.values():
        _check_output_name(job)
    if not isinstance(params, Mapping):
        raise InvalidWorkflow(f"params must map names to default values, not {type(params).__name__}")
    outputs = {job.output for job in jobs.values()} if params else set()
    for name, default in params.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidWorkflow(f"param {name!r}: a parameter name must be a Python identifier")
        if name in RESERVED_INPUTS:
            raise InvalidWorkflow(f"param {name!r} is a reserved input name; choose another")
        if name in outputs:
            raise InvalidWorkflow(f"param {name!r} is also a job's output; a name is either one or the other")
        problem = json_problem(default, "its default")
        if problem:
            raise InvalidWorkflow(f"param {name!r}: {problem}")
    return dict(params)


def validate_jobs(
    jobs: Mapping[str, Job],
    order: list[str],
    predecessors: Mapping[str, Sequence[str]],
    params: Mapping[str, Any],
    maps: Mapping[str, Map],
) -> dict[str, list[InputBinding]]:
    """Validate every job of a graph; return the input bindings of each job by identity.

    Jobs that share one sequence object of predecessors (as a Chain of Groups makes them) share
    their ancestors, which are then worked out once.
    """
    position = {identity: index for index, identity in enumerate(order)}
    producers_by_output: dict[str, list[str]] = {}
    for identity in jobs:
        output = jobs[identity].output
        if output is not None:
            producers_by_output.setdefault(output, []).append(identity)
    ancestors: dict[str, int] = {}
    provided = RESERVED_INPUTS | set(params)
    if maps or any(input_parameter(e)[0] not in provided for job in jobs.values() for e in job.inputs or ()):
        after: dict[int, int] = {}
        for identity in order:
            upstreams = predecessors[identity]
            bits = after.get(id(upstreams))
            if bits is None:
                bits = 0
                for upstream in upstreams:
                    bits |= ancestors[upstream] | (1 << position[upstream])
                after[id(upstreams)] = bits
            ancestors[identity] = bits

    def producers_of(job: Job, output: str) -> tuple[str, ...]:
        producers = producers_by_output.get(output, ())
        for producer in producers:
            if not ancestors[str(job.identity)] >> position[producer] & 1:
                raise InvalidWorkflow(
                    f"{describe(job)}: input {output!r}: its producer {describe(jobs[producer])} "
                    "does not run before it; put the producer earlier in a Chain"
                )
        return tuple(producers)

    bindings: dict[str, list[InputBinding]] = {}
    problems: list[str] = []
    for identity in order:
        try:
            bindings[identity] = _check_job(jobs[identity], producers_of, params, maps)
        except InvalidWorkflow as error:
            problems.extend(error.problems)
    if problems:
        raise InvalidWorkflow.of(problems)
    return bindings


def validate_callback(
    job: Job, jobs: Mapping[str, Job], params: Mapping[str, Any], maps: Mapping[str, Map]
) -> list[InputBinding]:
    """Validate a callback job, which runs after every job of the workflow (and is never mapped)."""

    def producers_of(_: Job, output: str) -> tuple[str, ...]:
        return tuple(identity for identity, job in jobs.items() if job.output == output)

    return _check_job(job, producers_of, params, maps)


def validate_units(
    units: Mapping[str, Any],
    jobs: Mapping[str, Job],
    maps: Mapping[str, Map],
    dependencies: Sequence[tuple[str, Sequence[str]]],
) -> None:
    """Refuse units that hold a Map, share a job, or that outside jobs sit between (a unit must run in one go)."""
    owner: dict[str, str] = {}
    for unit_id, unit in units.items():
        for member in unit.members:
            if member not in jobs:
                raise InvalidWorkflow(f"{unit_id} names job {member!r}, which is not a job of the workflow")
            if member in maps:
                raise InvalidWorkflow(
                    f"{unit_id}: job {member} ({jobs[member].name}) is mapped; a Unit cannot hold a Map, "
                    "whose items run as tasks of their own on Airflow: put the Map outside the Unit"
                )
            if member in owner:
                raise InvalidWorkflow(
                    f"job {member} ({jobs[member].name}) is in {owner[member]} and {unit_id}: "
                    "a Unit cannot hold another Unit"
                )
            owner[member] = unit_id
            meta = jobs[member].meta or {}
            if meta.get("airflow"):
                raise InvalidWorkflow(
                    f"{unit_id}: job {member} ({jobs[member].name}) sets meta['airflow'], which a member of a "
                    "Unit cannot use: the unit runs as one Airflow task with the workflow's task settings"
                )
    for mapped in maps.values():
        made = [job_id for job_id in owner if jobs[job_id].output == mapped.output]
        if made:
            raise InvalidWorkflow(
                f"Map of {describe(mapped.job)} goes over output {mapped.output!r} of job {made[0]} "
                f"({jobs[made[0]].name}), a member of {owner[made[0]]}: a Map cannot go over a Unit member's "
                "output; let a job outside the Unit produce the list"
            )
    successors: dict[str, list[str]] = {}
    for downstream, predecessors in dependencies:
        for upstream in predecessors:
            successors.setdefault(upstream, []).append(downstream)
    for unit_id, unit in units.items():
        # The outside jobs right after a member, then all they lead to: none may lead back into the unit.
        # Each job is looked at once per unit, since one that leads back would have been reported.
        first = [(job, job) for m in unit.members for job in successors.get(m, ()) if owner.get(job) != unit_id]
        seen = {job for job, _ in first}
        todo = list(first)
        while todo:
            job_id, after = todo.pop()
            for successor in successors.get(job_id, ()):
                if owner.get(successor) == unit_id:
                    raise InvalidWorkflow(
                        f"job {after} ({jobs[after].name}) runs after a member of {unit_id} and before "
                        "another: a Unit's members must run in one go, with no outside job between them"
                    )
                if successor not in seen:
                    seen.add(successor)
                    todo.append((successor, after))
