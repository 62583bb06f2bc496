"""Workflows: jobs in Chains (in sequence), Groups (in parallel), Maps (per item) and Units (as one), validated."""

from __future__ import annotations

import enum
import json
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hymir import legacy
from hymir.binding import InputBinding
from hymir.errors import InvalidWorkflow
from hymir.job import DEFAULT_MAX_RETRIES, MAX_WAIT, RETRY_LIMIT, Job, JobFunction
from hymir.jsonsafe import json_problem
from hymir.mapping import Map, split_item_id
from hymir.trust import allowed_prefixes, check_allowed, check_function_allowed
from hymir.validation import validate_callback, validate_jobs, validate_params, validate_retry_cap, validate_units

#: The serialization format written by ``Workflow.serialize``.
FORMAT_VERSION = 1


class _Container:
    """Members run in an order defined by the subclass; members are Jobs, Maps, Units, Chains or Groups."""

    kind = ""

    def __init__(self, *members: Job | Map | Unit | Chain | Group):
        for position, member in enumerate(members, start=1):
            if not isinstance(member, (Job, Map, Unit, _Container)):
                hint = ""
                if isinstance(member, JobFunction):
                    hint = f"; call it to make a Job, e.g. {member.__name__}()"
                raise InvalidWorkflow(
                    f"member {position} of {type(self).__name__} is {member!r} ({type(member).__name__}), "
                    f"not a Job, Map, Unit, Chain or Group{hint}"
                )
        if not members:
            raise InvalidWorkflow(f"{type(self).__name__}() has no members")
        self.members = members

    @property
    def jobs(self) -> tuple[Job | Map | Unit | Chain | Group, ...]:
        """The members, under the name hymir 0.1.9 gave them (a tuple here, so changing it fails loudly)."""
        return self.members

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.members))})"


class Chain(_Container):
    """Members run one after another; each starts once everything before it has finished."""

    kind = "chain"


class Group(_Container):
    """Members run in parallel; the Group is finished once all of them are."""

    kind = "group"


#: The ids of a workflow's units: ``unit_1``, ``unit_2``, ... in definition order.
UNIT_ID_PREFIX = "unit_"
_UNIT_ID = re.compile(rf"{UNIT_ID_PREFIX}[1-9][0-9]*")


@dataclass(frozen=True)
class Unit:
    """Run a Chain or Group as one unit, retried as a whole up to ``retries`` times, ``retry_delay`` s apart.

    ``members`` are the identities of its jobs in workflow order, set when the workflow is built.
    A unit holds jobs, Chains and Groups: no Map (its items are tasks of their own on Airflow)
    and no other Unit.
    """

    body: Chain | Group | None
    retries: int = 0
    retry_delay: float = 0
    members: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.body is not None and not isinstance(self.body, (Chain, Group)):
            raise InvalidWorkflow(f"Unit(...) holds a Chain or Group, not {self.body!r} ({type(self.body).__name__})")
        if not (isinstance(self.retries, int) and not isinstance(self.retries, bool) and 0 <= self.retries):
            raise InvalidWorkflow(f"Unit(retries={self.retries!r}): retries must be a whole number of 0 or more")
        if self.retries > RETRY_LIMIT:
            raise InvalidWorkflow(f"Unit(retries={self.retries!r}): at most {RETRY_LIMIT} retries")
        delay = self.retry_delay
        if not (isinstance(delay, numbers.Real) and not isinstance(delay, bool) and 0 <= delay <= MAX_WAIT):
            raise InvalidWorkflow(f"Unit(retry_delay={delay!r}): retry_delay must be seconds from 0 to {MAX_WAIT}")

    def with_members(self, members: Iterable[str]) -> Unit:
        """This unit holding the jobs of these identities, as the workflow numbered them."""
        return replace(self, body=None, members=tuple(members))

    def options(self) -> dict[str, Any]:
        """The unit as JSON-safe data, for ``Workflow.serialize``."""
        return {"members": list(self.members), "retries": self.retries, "retry_delay": self.retry_delay}

    @classmethod
    def from_options(cls, data: Any) -> Unit:
        """The unit of ``options()`` output; anything else raises ``InvalidWorkflow``."""
        if not isinstance(data, dict) or set(data) != {"members", "retries", "retry_delay"}:
            raise InvalidWorkflow(f"a serialized unit has members, retries and retry_delay: {data!r}")
        members = data["members"]
        if not isinstance(members, list) or not members or not all(isinstance(m, str) for m in members):
            raise InvalidWorkflow(f"a serialized unit's members are job identities: {members!r}")
        return cls(None, data["retries"], data["retry_delay"], tuple(members))


#: The nesting of a workflow: a job identity, or a ("chain" | "group", children) pair.
Structure = str | tuple[str, tuple["Structure", ...]]


@dataclass
class _GraphBuilder:
    """Turns nested Chains and Groups into jobs with identities "1", "2", ... and their predecessors.

    Each member of a Chain waits for the exits of the member before it. The jobs that wait for
    the same exits share one tuple of them, so that a Chain of Groups makes one object per Group
    rather than one edge per pair of jobs of neighbouring Groups.
    """

    jobs: dict[str, Job]
    predecessors: dict[str, tuple[str, ...]]
    maps: dict[str, Map]
    units: dict[str, Unit] = field(default_factory=dict)

    def add(self, member: Job | Map | Unit | _Container, before: tuple[str, ...]) -> tuple[Structure, tuple[str, ...]]:
        """Add a member whose first jobs wait for ``before``; return its structure and its exit job identities.

        A Unit's body is added like any Chain or Group; the unit records the jobs it added.
        """
        if isinstance(member, Unit):
            if member.body is None:
                raise InvalidWorkflow("a Unit built from serialized data cannot be added to a Chain or Group")
            first = len(self.jobs)
            unit_id = f"{UNIT_ID_PREFIX}{len(self.units) + 1}"
            self.units[unit_id] = member  # claims the id before any unit inside it
            structure, exits = self.add(member.body, before)
            self.units[unit_id] = member.with_members(list(self.jobs)[first:])
            return structure, exits
        if isinstance(member, (Job, Map)):
            identity = str(len(self.jobs) + 1)
            job = (member.job if isinstance(member, Map) else member).with_identity(identity)
            self.jobs[identity] = job
            if isinstance(member, Map):
                self.maps[identity] = member.with_job(job)
            self.predecessors[identity] = before
            return identity, (identity,)
        if isinstance(member, Group):
            parts = [self.add(child, before) for child in member.members]
            return (member.kind, tuple(part[0] for part in parts)), tuple(i for part in parts for i in part[1])
        structures = []
        exits = before
        for child in member.members:
            structure, exits = self.add(child, exits)
            structures.append(structure)
        return (member.kind, tuple(structures)), exits


class Workflow:
    """A validated graph of jobs, built from a Chain or Group (or from explicit jobs and edges).

    ``params`` declares values that each run provides (name -> default): jobs take them as
    inputs like outputs produced before every job, and a run may override them. ``max_retries``
    is the cap of a Retry that names none, for jobs whose ``meta`` has no ``max_retries``.
    ``fail_fast`` stops the run at the first job that fails: nothing new starts, jobs still running
    are failed, and only ON_FINISHED callbacks run; without it, independent branches go on.
    """

    class Callbacks(str, enum.Enum):
        """Moments at which a workflow runs registered callback jobs."""

        ON_FINISHED = "on_finished"

    def __init__(
        self,
        root: Chain | Group | Job | Map | Unit,
        *,
        params: Mapping[str, Any] | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        fail_fast: bool = False,
    ):
        if not isinstance(root, (Job, Map, Unit, _Container)):
            raise InvalidWorkflow(
                f"a Workflow is built from a Chain, Group, Unit, Map or Job, not {type(root).__name__}"
            )
        builder = _GraphBuilder(jobs={}, predecessors={}, maps={})
        structure, _ = builder.add(root, ())
        self._set_run_settings(max_retries, fail_fast)
        self._predecessors: Mapping[str, Sequence[str]] = builder.predecessors
        self._build(builder.jobs, None, structure, params or {}, builder.maps)
        self._set_units(builder.units)

    @classmethod
    def from_graph(
        cls,
        jobs: Mapping[str, Job | Map],
        edges: Iterable[tuple[str, str]],
        *,
        params: Mapping[str, Any] | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        fail_fast: bool = False,
    ) -> Workflow:
        """Build a workflow from jobs (or Maps of jobs) keyed by identity and ``(upstream, downstream)`` edges."""
        if not isinstance(jobs, Mapping):
            raise InvalidWorkflow(f"jobs must be a mapping of identity to Job, not {type(jobs).__name__}")
        plain: dict[str, Job] = {}
        maps: dict[str, Map] = {}
        for identity, job in jobs.items():
            if not isinstance(identity, str) or not identity or split_item_id(identity) is not None:
                raise InvalidWorkflow(
                    f"job identity {identity!r} must be a non-empty string that does not end in [n] (an item's)"
                )
            if not isinstance(job, (Job, Map)):
                raise InvalidWorkflow(f"job {identity} is {job!r} ({type(job).__name__}), not a Job or Map")
            plain[identity] = replace(job.job if isinstance(job, Map) else job, identity=identity)
            if isinstance(job, Map):
                maps[identity] = job.with_job(plain[identity])
        workflow = cls.__new__(cls)
        workflow._set_run_settings(max_retries, fail_fast)
        workflow._build(plain, list(edges), None, params or {}, maps)
        workflow._set_units({})
        return workflow

    def _set_units(self, units: dict[str, Unit]) -> None:
        """Check and keep the workflow's units, by id (``unit_1``, ...), and which unit each member is in."""
        if not units:
            self._units, self._unit_of = {}, {}
            return
        validate_units(units, self._jobs, self._maps, self.dependencies)
        position = {job_id: index for index, job_id in enumerate(self._order)}
        self._units = {
            unit_id: replace(unit, members=tuple(sorted(unit.members, key=position.__getitem__)))
            for unit_id, unit in units.items()
        }
        self._unit_of = {member: unit_id for unit_id, unit in self._units.items() for member in unit.members}

    def _set_run_settings(self, max_retries: Any, fail_fast: Any) -> None:
        """Check and keep the run-wide settings."""
        problem = validate_retry_cap(max_retries)
        if problem:
            raise InvalidWorkflow(f"Workflow(max_retries={max_retries!r}): {problem}")
        if not isinstance(fail_fast, bool):
            raise InvalidWorkflow(f"Workflow(fail_fast={fail_fast!r}): fail_fast must be True or False")
        self._max_retries: int = max_retries
        self._fail_fast: bool = fail_fast

    def _build(
        self,
        jobs: dict[str, Job],
        edges: list[tuple[str, str]] | None,
        structure: Structure | None,
        params: Any,
        maps: dict[str, Map],
    ) -> None:
        """Check and keep the graph: from ``edges``, or (None) from Chains and Groups, whose predecessors are set."""
        self._jobs = jobs
        self._maps = maps
        self._params = validate_params(params, jobs)
        self._structure = structure
        self._callbacks: dict[Workflow.Callbacks, list[Job]] = {event: [] for event in Workflow.Callbacks}
        #: The workflow's ``hymir.layout.WorkflowLayout``, kept by ``WorkflowLayout.of`` once worked out.
        self._layout: object = None
        if edges is None:
            self._order = self._order_of_structure()
        else:
            self._predecessors = _predecessors_from_edges(jobs, edges)
            self._order = self._topological_order()
        self._bindings = validate_jobs(self._jobs, self._order, self._predecessors, self._params, maps)

    def _order_of_structure(self) -> list[str]:
        """The topological order of a workflow of Chains and Groups, the same that ``_topological_order`` gives.

        Its jobs are defined after everything they wait for, so one pass in definition order finds
        each job's wave (the longest path to it); jobs that share their predecessors share the wave.
        """
        waves: dict[str, int] = {}
        after: dict[int, int] = {}
        for identity, upstreams in self._predecessors.items():
            wave = after.get(id(upstreams))
            if wave is None:
                wave = after[id(upstreams)] = 1 + max((waves[upstream] for upstream in upstreams), default=-1)
            waves[identity] = wave
        return sorted(self._jobs, key=waves.__getitem__)

    def _topological_order(self) -> list[str]:
        """Job identities so that every job follows its predecessors; ties keep definition order.

        Jobs come in waves: first those without predecessors, then those whose predecessors are
        all in earlier waves, and so on, each wave in definition order.
        """
        position = {identity: index for index, identity in enumerate(self._jobs)}
        waiting = {identity: len(upstreams) for identity, upstreams in self._predecessors.items()}
        successors: dict[str, list[str]] = {identity: [] for identity in self._jobs}
        for identity, upstreams in self._predecessors.items():
            for upstream in upstreams:
                successors[upstream].append(identity)
        wave = [identity for identity, count in waiting.items() if count == 0]
        order: list[str] = []
        while wave:
            order.extend(wave)
            following = []
            for identity in wave:
                for successor in successors[identity]:
                    waiting[successor] -= 1
                    if waiting[successor] == 0:
                        following.append(successor)
            wave = sorted(following, key=position.__getitem__)
        if len(order) < len(self._jobs):
            cycle = " -> ".join(_a_cycle(self._predecessors, set(self._jobs) - set(order)))
            raise InvalidWorkflow(f"the workflow's edges form a cycle: {cycle}")
        return order

    def on(self, event: Workflow.Callbacks, job: Job) -> Workflow:
        """Register a job to run at ``event``; ON_FINISHED jobs run once the workflow finishes, even on failure."""
        if not isinstance(event, Workflow.Callbacks):
            raise InvalidWorkflow(f"unknown callback event {event!r}; use Workflow.Callbacks.ON_FINISHED")
        if not isinstance(job, Job):
            raise InvalidWorkflow(f"a callback must be a Job, not {job!r} ({type(job).__name__})")
        taken = {j.identity for j in self._all_jobs()}
        identity = next(str(n) for n in range(len(taken) + 1, 2 * len(taken) + 2) if str(n) not in taken)
        job = replace(job, identity=identity)
        binding = validate_callback(job, self._jobs, self._params, self._maps)
        self._callbacks[event].append(job)
        self._bindings[identity] = binding
        self._layout = None  # the new job needs an id
        return self

    @property
    def jobs(self) -> dict[str, Job]:
        """The workflow's jobs (callbacks aside) by identity, in definition order."""
        return dict(self._jobs)

    @property
    def maps(self) -> dict[str, Map]:
        """The Map of every mapped job, by the mapped job's identity (its items are ``"3[0]"``, ``"3[1]"``, ...)."""
        return dict(self._maps)

    def maps_over(self, output: str) -> list[Map]:
        """The Maps that go over the items of ``output``."""
        return [mapped for mapped in self._maps.values() if mapped.output == output]

    @property
    def units(self) -> dict[str, Unit]:
        """Every Unit by id (``unit_1``, ``unit_2``, ... in definition order), its ``members`` in workflow order."""
        return dict(self._units)

    def unit_of(self, job_id: str) -> str | None:
        """The id of the unit that job ``job_id`` is a member of, or None."""
        return self._unit_of.get(job_id)

    @property
    def max_retries(self) -> int:
        """The cap of a Retry without ``max_retries``, for jobs whose meta names none."""
        return self._max_retries

    @property
    def fail_fast(self) -> bool:
        """True when the first job that fails stops the run."""
        return self._fail_fast

    @property
    def params(self) -> dict[str, Any]:
        """The workflow's parameters and their defaults."""
        return dict(self._params)

    def resolve_params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The parameter values of one run: the defaults, with ``overrides`` applied.

        Raises ``InvalidWorkflow`` for a name that is not a parameter or a value JSON cannot carry.
        """
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(self._params))
        if unknown:
            raise InvalidWorkflow(f"unknown params {unknown}; the workflow's params are {sorted(self._params)}")
        for name, value in overrides.items():
            problem = json_problem(value, f"param {name!r}")
            if problem:
                raise InvalidWorkflow(problem)
        return {**self._params, **overrides}

    @property
    def callbacks(self) -> dict[Workflow.Callbacks, list[Job]]:
        """The callback jobs registered for each event."""
        return {event: list(jobs) for event, jobs in self._callbacks.items()}

    @property
    def structure(self) -> Structure | None:
        """How Chains and Groups nest, by job identity; None for a workflow built from explicit edges."""
        return self._structure

    @property
    def dependencies(self) -> list[tuple[str, list[str]]]:
        """``(job_id, [predecessor ids])`` for every job, in topological order."""
        return [(identity, list(self._predecessors[identity])) for identity in self._order]

    @property
    def outputs(self) -> set[str]:
        """The names of the outputs that jobs produce."""
        return {job.output for job in self._all_jobs() if job.output is not None}

    @property
    def inputs(self) -> set[str]:
        """The names of the outputs that jobs consume (reserved inputs aside)."""
        return {b.output for bindings in self._bindings.values() for b in bindings if b.producers is not None}

    def predecessors(self, job_id: str) -> list[str]:
        """The jobs that must finish before ``job_id`` starts."""
        self[job_id]
        return list(self._predecessors.get(job_id, ()))

    def input_bindings(self, job_id: str) -> list[InputBinding]:
        """How each input of ``job_id`` (or of an item of it) is fed: its parameter, output, producers and list-ness."""
        self[job_id]
        return list(self._bindings[self.mapped_job_of(job_id) or job_id])

    def mapped_job_of(self, job_id: str) -> str | None:
        """The mapped job's identity when ``job_id`` is one of its items (``"3"`` for ``"3[0]"``), else None."""
        item = split_item_id(job_id) if job_id not in self._jobs else None
        return item[0] if item is not None and item[0] in self._maps else None

    def map_producer(self, job_id: str) -> str:
        """The job whose list output the mapped job ``job_id`` goes over (validation made it exactly one)."""
        binding = next(binding for binding in self.input_bindings(job_id) if binding.each)
        (producer,) = binding.producers or ()
        return producer

    def callback_ids(self) -> list[str]:
        """Identities of every callback job, in registration order."""
        return [str(job.identity) for jobs in self._callbacks.values() for job in jobs]

    def _all_jobs(self) -> Iterable[Job]:
        yield from self._jobs.values()
        for jobs in self._callbacks.values():
            yield from jobs

    def __getitem__(self, job_id: str) -> Job:
        """The job of this identity; for an item of a mapped job (``"3[0]"``), that job under the item's identity."""
        job = self._jobs.get(job_id)
        if job is None:
            job = next((j for j in self._all_jobs() if j.identity == job_id), None)
        if job is None:
            mapped = self.mapped_job_of(job_id) if isinstance(job_id, str) else None
            if mapped is not None:
                return self._jobs[mapped].with_identity(job_id)
            raise KeyError(f"workflow has no job {job_id!r}")
        return job

    def __len__(self) -> int:
        return len(self._jobs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workflow) and self.serialize() == other.serialize()

    def __repr__(self) -> str:
        return f"<Workflow of {len(self)} jobs>"

    def to_dict(self) -> dict[str, Any]:
        """The workflow as JSON-safe data (see ``serialize``); ``maps`` and ``units`` only when there are some."""
        maps = {"maps": {job_id: mapped.options() for job_id, mapped in self._maps.items()}} if self._maps else {}
        if self._units:
            maps["units"] = {unit_id: unit.options() for unit_id, unit in self._units.items()}
        return {
            "version": FORMAT_VERSION,
            "jobs": [job.serialize() for job in self._jobs.values()],
            "edges": [[upstream, identity] for identity, preds in self._predecessors.items() for upstream in preds],
            "structure": _structure_to_data(self._structure),
            "params": self._params,
            "max_retries": self._max_retries,
            "fail_fast": self._fail_fast,
            "callbacks": {event.value: [job.serialize() for job in jobs] for event, jobs in self._callbacks.items()},
            **maps,
        }

    def serialize(self) -> str:
        """Serialize the workflow to a JSON string."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def deserialize(
        cls, data: str | bytes | dict[str, Any], *, allowed_modules: Iterable[str] | None = None
    ) -> Workflow:
        """Restore a workflow from ``serialize`` output (or hymir 0.1.9's); malformed data raises ``InvalidWorkflow``.

        Job functions are imported only from ``allowed_modules`` (module prefixes; by default
        those in ``HYMIR_ALLOWED_MODULES``, else none): any other is refused before import.
        """
        prefixes = allowed_prefixes(allowed_modules)
        try:
            return cls._from_data(json.loads(data) if isinstance(data, (str, bytes)) else data, prefixes)
        except InvalidWorkflow:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
            raise InvalidWorkflow(f"malformed serialized workflow: {error!r}") from None

    @classmethod
    def _from_data(cls, data: Any, prefixes: tuple[str, ...]) -> Workflow:
        if not isinstance(data, dict):
            raise InvalidWorkflow(f"a serialized workflow is a JSON object, not {type(data).__name__}")
        if legacy.is_workflow(data):
            data = legacy.workflow_fields(data, FORMAT_VERSION)
        if type(data.get("version")) is not int or data["version"] != FORMAT_VERSION:
            raise InvalidWorkflow(f"unsupported serialized workflow version {data.get('version')!r}")
        jobs_data, edges = data.get("jobs"), data.get("edges")
        callbacks = data.get("callbacks", {})
        if not isinstance(jobs_data, list) or not isinstance(edges, list) or not isinstance(callbacks, dict):
            raise InvalidWorkflow("a serialized workflow needs a 'jobs' list, an 'edges' list and a 'callbacks' object")
        jobs = [Job.deserialize(item) for item in jobs_data]
        callback_jobs = {}
        for event_name, items in callbacks.items():
            if not isinstance(items, list):
                raise InvalidWorkflow(f"callbacks of {event_name!r} must be a list")
            callback_jobs[event_name] = [Job.deserialize(item) for item in items]
        for job in [*jobs, *(job for items in callback_jobs.values() for job in items)]:
            check_allowed(job.name, prefixes)
            check_function_allowed(job.name, prefixes)
        # from_graph refuses identities that are not strings.
        jobs_by_identity: dict[Any, Job] = {job.identity: job for job in jobs}
        if len(jobs_by_identity) != len(jobs):
            raise InvalidWorkflow("serialized workflow has jobs with the same identity")
        maps = data.get("maps", {})
        if not isinstance(maps, dict) or set(maps) - set(jobs_by_identity):
            raise InvalidWorkflow(f"serialized maps must name jobs of the workflow: {maps!r}")
        by_identity: dict[Any, Job | Map] = {
            **jobs_by_identity,
            **{job_id: Map.from_options(jobs_by_identity[job_id], options) for job_id, options in maps.items()},
        }
        edges = [tuple(edge) if isinstance(edge, list) else edge for edge in edges]
        workflow = cls.from_graph(
            by_identity,
            edges,
            params=data.get("params") or {},
            max_retries=data.get("max_retries", DEFAULT_MAX_RETRIES),
            fail_fast=data.get("fail_fast", False),
        )
        workflow._structure = _structure_from_data(data.get("structure"), set(by_identity))
        units = data.get("units", {})
        if not isinstance(units, dict) or not all(isinstance(u, str) and _UNIT_ID.fullmatch(u) for u in units):
            raise InvalidWorkflow(f"serialized units are an object of unit ids ({UNIT_ID_PREFIX}1, ...): {units!r}")
        restored = {unit_id: Unit.from_options(options) for unit_id, options in units.items()}
        bodies = _structure_jobs(workflow._structure)
        for unit_id, unit in restored.items():
            if frozenset(unit.members) not in bodies:
                members = list(unit.members)
                raise InvalidWorkflow(f"serialized {unit_id} holds {members}, not the jobs of one Chain or Group")
        workflow._set_units(restored)
        for event_name, items in callback_jobs.items():
            try:
                event = Workflow.Callbacks(event_name)
            except ValueError:
                raise InvalidWorkflow(f"unknown callback event {event_name!r}") from None
            for callback in items:
                workflow.on(event, callback)
        return workflow


def _predecessors_from_edges(jobs: Mapping[str, Job], edges: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Each job's predecessors by identity, from ``(upstream, downstream)`` edges, which it checks."""
    # Ordered sets (dicts of None): a repeated edge counts once, and a job with thousands of
    # predecessors does not make each new edge scan a list of them.
    predecessors: dict[str, dict[str, None]] = {identity: {} for identity in jobs}
    for edge in edges:
        if not (isinstance(edge, (list, tuple)) and len(edge) == 2):
            raise InvalidWorkflow(f"edge {edge!r} must be an (upstream, downstream) pair")
        upstream, downstream = edge
        for end in (upstream, downstream):
            if not isinstance(end, str) or end not in jobs:
                raise InvalidWorkflow(f"edge {edge!r} names {end!r}, which is not a job of the workflow")
        if upstream == downstream:
            raise InvalidWorkflow(f"edge {edge!r} makes job {upstream} depend on itself")
        predecessors[downstream][upstream] = None
    return {identity: list(upstreams) for identity, upstreams in predecessors.items()}


def _a_cycle(predecessors: Mapping[str, Sequence[str]], stuck: set[str]) -> list[str]:
    """One cycle among the ``stuck`` jobs (those a topological order could not place), as a closed path."""
    start = min(stuck)
    path, seen = [start], {start: 0}
    while True:
        upstream = next(u for u in predecessors[path[-1]] if u in stuck)
        if upstream in seen:
            cycle = [*path[seen[upstream] :], upstream]
            return cycle[::-1]
        seen[upstream] = len(path)
        path.append(upstream)


def _structure_jobs(structure: Structure | None) -> set[frozenset[str]]:
    """The set of jobs of every Chain and Group of ``structure``, the outermost included: what a Unit may hold."""
    found: set[frozenset[str]] = set()

    def visit(node: Structure) -> frozenset[str]:
        if isinstance(node, str):
            return frozenset({node})
        jobs = frozenset().union(*(visit(child) for child in node[1]))
        found.add(jobs)
        return jobs

    if structure is not None:
        visit(structure)
    return found


def _structure_to_data(structure: Structure | None) -> Any:
    if structure is None or isinstance(structure, str):
        return structure
    kind, children = structure
    return {kind: [_structure_to_data(child) for child in children]}


def _structure_from_data(data: Any, identities: set[str]) -> Structure | None:
    return None if data is None else _structure_node(data, identities)


def _structure_node(data: Any, identities: set[str]) -> Structure:
    if isinstance(data, str):
        if data not in identities:
            raise InvalidWorkflow(f"serialized structure names unknown job {data!r}")
        return data
    if isinstance(data, dict) and len(data) == 1:
        ((kind, children),) = data.items()
        if kind in (Chain.kind, Group.kind) and isinstance(children, list) and children:
            return kind, tuple(_structure_node(child, identities) for child in children)
    raise InvalidWorkflow(f"malformed serialized structure {data!r}")
