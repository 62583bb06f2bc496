"""Map: a job run once for each item of a list that another job produces, known only at run time.

Each item is its own job instance, with its own retries, checks, context and result; its
identity is the mapped job's with the item's index, ``"3[0]"``, ``"3[1]"``, ... A consumer of
the mapped job's output gets the items' values in item order, on every engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from hymir.errors import InvalidWorkflow
from hymir.job import Job, _input_entry, input_parameter
from hymir.labels import describe

#: The longest list a Map goes over unless it says otherwise: Airflow's own default ``max_map_length``.
DEFAULT_MAX_LENGTH = 1024

_ITEM_ID = re.compile(r"(?P<job_id>.+)\[(?P<index>\d+)\]")


@dataclass(frozen=True)
class Map:
    """Run ``job`` once for each item of the list output ``over`` (another job's), in parallel.

    ``over`` is an output name, whose items fill the parameter of that name, or an
    ``(output, parameter)`` pair. ``max_active`` caps how many items run at once (None: as many
    as the engine allows). Without ``fail_fast`` one item's failure leaves the others running
    and fails the mapped job once they are done; with it, an item that would start a try or a
    check after another item failed fails as stopped instead. A list longer than ``max_length`` fails the
    job that produced it. Consumers of the mapped job's output get the items' values in item
    order; an empty list gives no item, and consumers get ``[]``.
    """

    job: Job
    over: str | tuple[str, str]
    max_active: int | None = None
    fail_fast: bool = False
    max_length: int = DEFAULT_MAX_LENGTH

    def __post_init__(self) -> None:
        if not isinstance(self.job, Job):
            raise InvalidWorkflow(f"Map(...) maps a Job, not {self.job!r} ({type(self.job).__name__})")
        where = f"Map of {describe(self.job)}"
        try:
            object.__setattr__(self, "over", _input_entry(self.over))
        except InvalidWorkflow as error:
            raise InvalidWorkflow(f"{where}: over={self.over!r}: {error}") from None
        if self.max_active is not None and not _is_count(self.max_active, 1):
            raise InvalidWorkflow(f"{where}: max_active must be a whole number of 1 or more, not {self.max_active!r}")
        if not isinstance(self.fail_fast, bool):
            raise InvalidWorkflow(f"{where}: fail_fast must be True or False, not {self.fail_fast!r}")
        if not _is_count(self.max_length, 0):
            raise InvalidWorkflow(f"{where}: max_length must be a whole number of 0 or more, not {self.max_length!r}")

    @property
    def output(self) -> str:
        """The output whose items the job is run for."""
        return input_parameter(self.over)[0]

    @property
    def parameter(self) -> str:
        """The parameter of the job that each item fills."""
        return input_parameter(self.over)[1]

    def with_job(self, job: Job) -> Map:
        """This map of another job (the same job under the identity a workflow gave it)."""
        return replace(self, job=job)

    def options(self) -> dict[str, Any]:
        """The map's settings as JSON-safe data, as ``Workflow.serialize`` writes them."""
        return {
            "over": self.over if isinstance(self.over, str) else list(self.over),
            "max_active": self.max_active,
            "fail_fast": self.fail_fast,
            "max_length": self.max_length,
        }

    @classmethod
    def from_options(cls, job: Job, data: Any) -> Map:
        """The map of ``job`` from ``options()`` data; malformed data raises ``InvalidWorkflow``."""
        known = {"over", "max_active", "fail_fast", "max_length"}
        if not isinstance(data, dict) or "over" not in data or set(data) - known:
            raise InvalidWorkflow(f"serialized map of {describe(job)} is malformed: {data!r}")
        over = data["over"]
        if isinstance(over, list):
            over = tuple(over)
        return cls(
            job,
            over,
            max_active=data.get("max_active"),
            fail_fast=data.get("fail_fast", False),
            max_length=data.get("max_length", DEFAULT_MAX_LENGTH),
        )


def item_id(job_id: str, index: int) -> str:
    """The identity of item ``index`` of mapped job ``job_id``: ``"3[0]"``."""
    return f"{job_id}[{index}]"


def split_item_id(identity: str) -> tuple[str, int] | None:
    """``(job_id, index)`` of an item identity such as ``"3[0]"``, or None for any other identity."""
    match = _ITEM_ID.fullmatch(identity)
    return None if match is None else (match["job_id"], int(match["index"]))


def _is_count(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least
