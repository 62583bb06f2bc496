"""The ids that name a workflow's parts for people, worked out once for every engine and tool.

A job's readable id is its function's name (``_2``, ``_3``, ... where names clash); each nested
Chain and Group gets ``chain_1``, ``group_1``, ... (never a job's id); the finish line is the jobs
whose end is every job's end. The Airflow DAG factory names its tasks and TaskGroups from this, and
``hymir graph`` its subgraphs, so both show the same ids.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from hymir.workflow import Structure, Workflow

_SAFE = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True)
class Container:
    """One nested Chain or Group: its id, its kind (``"chain"`` or ``"group"``), its members and its parent's id.

    A member is a job identity or a nested Container, in the order the workflow gives them;
    ``parent`` is None for a container that sits directly in the workflow's outermost one.
    """

    id: str
    kind: str
    members: tuple[str | Container, ...]
    parent: str | None

    @property
    def jobs(self) -> list[str]:
        """The identities of every job inside, nested ones included, in order."""
        return [job for member in self.members for job in ([member] if isinstance(member, str) else member.jobs)]


@dataclass(frozen=True, eq=False)
class WorkflowLayout:
    """How a workflow's parts are named and nested: one per workflow, from ``WorkflowLayout.of``.

    ``readable_ids`` (every job's and callback's id, by job identity) is worked out at once; the
    containers and the finish line on first use, so a worker that builds one task pays only for ids.
    """

    #: The readable id of every job and ON_FINISHED callback, by job identity, in definition order.
    readable_ids: Mapping[str, str]
    _workflow: Workflow = field(repr=False)

    @classmethod
    def of(cls, workflow: Workflow) -> WorkflowLayout:
        """The layout of ``workflow``, kept on it until a callback is added (``Workflow.on`` forgets it)."""
        cached = workflow._layout
        if isinstance(cached, cls):
            return cached
        names = _UniqueNames()
        ids = {
            job_id: names.claim(_base_id(workflow[job_id].name))
            for job_id in [*workflow.jobs, *workflow.callback_ids()]
        }
        layout = workflow._layout = cls(ids, workflow)
        return layout

    def free_id(self, base: str) -> str:
        """``base``, or ``base_2``, ``base_3``, ... if a job has that id: an id for an engine's own task.

        Container ids are not looked at, so ``base`` must not look like one (``chain...``, ``group...``).
        """
        return first_free(base, self._taken)

    @functools.cached_property
    def step_ids(self) -> Mapping[str, str]:
        """The id of the step that runs each job and callback: its readable id, or its unit's for a member.

        A unit runs as one step (one Airflow task) named after it, ``unit_1``, or ``unit_1_2``
        should a job have that id.
        """
        ids = dict(self.readable_ids)
        for unit_id, unit in self._workflow.units.items():
            step = self.free_id(unit_id)
            ids.update((member, step) for member in unit.members)
        return ids

    @functools.cached_property
    def unit_bodies(self) -> Mapping[str, str]:
        """The nested Chain or Group that each unit holds, by unit id (a unit around the whole workflow has none)."""
        bodies = {}
        for container in self.containers.values():
            jobs = container.jobs
            unit_id = self._workflow.unit_of(jobs[0])
            if (
                unit_id is not None
                and unit_id not in bodies
                and set(jobs) == set(self._workflow.units[unit_id].members)
            ):
                bodies[unit_id] = container.id
        return bodies

    def in_unit(self, container: Container) -> bool:
        """True for a nested Chain or Group inside a unit, or held by one: on Airflow it is part of one task."""
        jobs = container.jobs
        unit_id = self._workflow.unit_of(jobs[0])
        return unit_id is not None and set(jobs) <= set(self._workflow.units[unit_id].members)

    @functools.cached_property
    def _taken(self) -> frozenset[str]:
        """Every job's readable id, for quick look-ups."""
        return frozenset(self.readable_ids.values())

    @property
    def top_level(self) -> tuple[str | Container, ...]:
        """What the outermost container holds: job identities and nested Containers, in order.

        A workflow built from explicit edges, or of a single job, has no containers: its jobs.
        """
        return self._nesting[0]

    @property
    def containers(self) -> Mapping[str, Container]:
        """Every nested Chain and Group by id, each after the container it sits in (outermost first)."""
        return self._nesting[1]

    @property
    def container_of(self) -> Mapping[str, str]:
        """The id of the innermost container of every job inside a nested one, by job identity."""
        return self._nesting[2]

    @functools.cached_property
    def finish_line(self) -> tuple[str, ...]:
        """The jobs whose end is every job's end, in definition order (ON_FINISHED follows them).

        The leaves alone are not enough: an engine may decide a job as soon as one of its
        predecessors failed (Airflow marks it upstream_failed while the others still run), so
        every predecessor of a job with several counts too, and so does every mapped job,
        whose items end one by one.
        """
        dependencies = self._workflow.dependencies
        has_successor = {upstream for _, predecessors in dependencies for upstream in predecessors}
        awaited = {upstream for _, predecessors in dependencies if len(predecessors) > 1 for upstream in predecessors}
        awaited |= set(self._workflow.maps)
        return tuple(job_id for job_id in self._workflow.jobs if job_id not in has_successor or job_id in awaited)

    @functools.cached_property
    def _nesting(self) -> tuple[tuple[str | Container, ...], dict[str, Container], dict[str, str]]:
        """``top_level``, ``containers`` and ``container_of``, from one walk of the workflow's structure.

        Containers are numbered per kind in the order they are defined, skipping any number whose
        id a job already has (a job function named ``group_1``).
        """
        structure = self._workflow.structure
        if structure is None or isinstance(structure, str):
            return tuple(self._workflow.jobs), {}, {}
        taken = set(self._taken)
        counters = {"chain": itertools.count(1), "group": itertools.count(1)}
        order: list[str] = []  # container ids as they are claimed: each before the containers inside it
        built: dict[str, Container] = {}
        container_of: dict[str, str] = {}

        def visit(node: Structure, parent: str | None) -> str | Container:
            if isinstance(node, str):
                if parent is not None:
                    container_of[node] = parent
                return node
            kind, children = node
            container_id = f"{kind}_{next(counters[kind])}"
            while container_id in taken:
                container_id = f"{kind}_{next(counters[kind])}"
            taken.add(container_id)
            order.append(container_id)
            members = tuple(visit(child, container_id) for child in children)
            container = built[container_id] = Container(container_id, kind, members, parent)
            return container

        top_level = tuple(visit(child, None) for child in structure[1])
        return top_level, {container_id: built[container_id] for container_id in order}, container_of


def first_free(base: str, taken: Collection[str]) -> str:
    """The first of ``base``, ``base_2``, ``base_3``, ... that is not in ``taken``."""
    return _first_free_number(base, taken, 1)[0]


def _first_free_number(base: str, taken: Collection[str], number: int) -> tuple[str, int]:
    """The first name of ``base`` from suffix ``number`` on (1: ``base`` itself) not in ``taken``, and its number."""
    name = base if number == 1 else f"{base}_{number}"
    while name in taken:
        number += 1
        name = f"{base}_{number}"
    return name, number


class _UniqueNames:
    """Hands out names not handed out before: ``base``, else ``base_2``, ``base_3``, ... whichever is free.

    Names are only ever added, so every suffix tried before for a base stays taken: remembering the
    last suffix per base keeps n jobs of one function linear instead of quadratic (10,000 jobs of
    one function took 11 s to name).
    """

    def __init__(self) -> None:
        self._taken: set[str] = set()
        self._last_number: dict[str, int] = {}

    def claim(self, base: str) -> str:
        """The first free name of ``base``, ``base_2``, ``base_3``, ...; it is taken from now on."""
        name, self._last_number[base] = _first_free_number(base, self._taken, self._last_number.get(base, 0) + 1)
        self._taken.add(name)
        return name


@functools.lru_cache(maxsize=4096)
def _base_id(name: str) -> str:
    """The id that the jobs of the function with this dotted name start from (before ``_2``, ...)."""
    return _ascii_id(name.rsplit(".", 1)[-1])


def _ascii_id(name: str) -> str:
    """``name`` as an id every engine accepts (Airflow's task ids): ASCII letters, digits and underscores.

    Accents are dropped (``größe`` gives ``groe``) and other characters become ``_``; a name with
    no letter or digit left is ``job``. Airflow's task display name keeps the function's own name.
    """
    if name.isascii() and _SAFE.fullmatch(name):
        return name
    plain = re.sub(r"[^A-Za-z0-9_]", "_", unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode())
    return plain if plain.strip("_") else "job"
