"""Where a job's inputs come from: the binding of each input, worked out when a workflow is built.

Both engines read these bindings at run time to fetch the values a job's parameters get.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputBinding:
    """One input of a job: the output it reads, the parameter it fills, and who produces it.

    ``producers`` lists the producing job identities in workflow order (the order in which the
    jobs appear in the workflow, which is the order of a list input's values), or is None for a value the
    engine provides itself: a reserved input or a workflow parameter. ``many`` is true when the
    parameter takes the list of values. ``each`` is true for the input a ``Map`` goes over: each
    item of the mapped job gets one item of its producer's list.
    """

    output: str
    parameter: str
    producers: tuple[str, ...] | None
    many: bool
    each: bool = False
