"""Job functions for the parity tests: one semantics, two engines (tests/test_parity.py and
tests/test_parity_property.py).

Jobs that count their calls append a line to a file named by their argument, so the count is
right whichever process or thread ran them. Values that JSON or Airflow's XCom serde could alter
are looked up by name in ``VALUES`` inside the job, so that they reach the engine only as a job's
result (never as an argument).
"""

import os
import time
from typing import Any

from hymir import CheckLater, Failure, Retry, Success, job
from tests.jobs.scenario import count_call

#: Values that must travel unchanged from a producer to consumers, outputs() and job_states().
VALUES: dict[str, Any] = {
    "int_2_70": 2**70,
    "neg_int_2_70": -(2**70),
    "int_2_63": 2**63,
    "neg_zero": -0.0,
    "float_one": 1.0,
    "none": None,
    "classname_key": {"__classname__": "x"},
    "id_key": {"__id__": 1},
    "type_var_dict": {"__type": "dict", "__var": {"a": 1}},
    "type_var_datetime": {"__type": "datetime", "__var": 0.0},
    "version_data": {"__version__": 1, "__data__": 2},
    "encoding_key": {"hymir:int": "5"},
    "nested": [
        {"__classname__": "x", "numbers": [2**70, -(2**70), 2**63, 1.0, -0.0, 1]},
        {"deep": {"__type": "dict", "__var": {"__id__": 1}}},
        {"__version__": 1, "__data__": [None, {"hymir:int": "5"}]},
        [{"__type": "datetime", "__var": 0.0}],
    ],
    "int_and_float": [1, 1.0, {"n": 1.0}],
    "unicode": "größe ✓",
    "nul": "a\x00b",
}

#: A string no UTF-8 store can carry: the producer must be refused on every engine.
LONE_SURROGATE = "a\ud800b"


# --- 1. arguments ----------------------------------------------------------------------------


@job(output="value")
def echo(a, b, c, q=None):
    """Return the arguments exactly as the function received them."""
    return Success({"a": a, "b": b, "c": c, "q": q})


# --- 2. values -------------------------------------------------------------------------------


@job(output="value")
def make(name: str):
    """Succeed with ``VALUES[name]`` (or the lone surrogate string for ``"lone_surrogate"``)."""
    return Success(LONE_SURROGATE if name == "lone_surrogate" else VALUES[name])


@job(inputs=["value"], output="received")
def receive(value):
    """Report the single value of the input 'value' and its type, as received."""
    return Success({"got": value, "type": type(value).__name__})


# --- 3. isolation ----------------------------------------------------------------------------


@job(output="items")
def make_items():
    """Succeed with a fresh list."""
    return Success([1, 2])


@job(inputs=["items"], output="appended")
def append_to_input(items):
    """Change the list it received as input, and return it."""
    items.append(99)
    return Success(items)


@job(inputs=["items"], output="seen")
def read_input(items):
    """Return the list it received as input."""
    return Success(items)


@job(output="value")
def append_to_argument(items):
    """Change the list it received as an argument, and return it."""
    items.append("added")
    return Success(items)


@job(inputs=["items"], output="value")
def append_to_param(items):
    """Change the list it received as a workflow param, and return it."""
    items.append("added")
    return Success(items)


# --- 4. huge waits ---------------------------------------------------------------------------


@job(output="value")
def huge_wait(path: str, kind: str, seconds: float):
    """Ask for a wait of ``seconds`` on the first call (CheckLater or Retry); succeed if ever called again.

    Succeeding on a later call keeps an engine that wrongly accepts the wait from looping for ever
    (a VirtualClock jumps over any wait): the test then sees SUCCESS instead of FAILURE.
    """
    if count_call(path) > 1:
        return Success("called again after the huge wait")
    if kind == "check_later":
        return CheckLater(wait_for=seconds)
    return Retry(wait_min=seconds, wait_max=seconds)


# --- 5. order --------------------------------------------------------------------------------


@job(output="name")
def emit_name(text: str):
    """Succeed with its argument as output 'name'."""
    return Success(text)


@job(inputs=["name"], output="names")
def collect_names(name: list[str]):
    """Return every value of output 'name', in the order it received them."""
    return Success(name)


# --- 6. BaseExceptions -----------------------------------------------------------------------


@job()
def raise_base_exception(kind: str):
    """Raise SystemExit("bye") or KeyboardInterrupt, which are not Exceptions."""
    if kind == "SystemExit":
        raise SystemExit("bye")
    raise KeyboardInterrupt


# --- 7. a function name that is not ASCII ----------------------------------------------------


@job(output="value")
def größe(word: str):
    """A job whose function name is not ASCII."""
    return Success(word)


# --- 8. list annotations ---------------------------------------------------------------------


@job(output="number")
def number(n: int):
    """Succeed with ``n`` as output 'number'."""
    return Success(n)


@job(inputs=["number"], output="numbers")
def optional_list(number: list[int] | None):
    """Receive every value of 'number' through an Optional[list[int]] parameter."""
    return Success(number)


@job(inputs=["number"], output="numbers")
def union_list(number: list[int] | None):
    """Receive every value of 'number' through a ``list[int] | None`` parameter."""
    return Success(number)


@job(inputs=["number"], output="numbers")
def bare_list(number: list):
    """Receive every value of 'number' through a bare ``list`` parameter."""
    return Success(number)


# --- 9. retry caps ---------------------------------------------------------------------------


@job()
def retry_always(path: str, max_retries: int | None = None):
    """Count a call and ask for a retry (tiny wait), with ``max_retries`` when given."""
    count_call(path)
    return Retry(wait_min=0, wait_max=0.05, max_retries=max_retries)


# --- 10. failure in a branch -----------------------------------------------------------------


@job(inputs=["job_state"], output="value")
def check_later_twice(job_state):
    """Ask to be checked again a second later, twice, then succeed."""
    checks = job_state.context.get("checks", 0)
    if checks < 2:
        return CheckLater(wait_for=1, context={"checks": checks + 1})
    return Success(f"checked {checks} times")


@job()
def fail_and_flag(flag: str, after: list[str] | None = None):
    """Create the file ``flag``, then fail: jobs that see the file know they run after the failure.

    With ``after``, it first waits (a second at most) until those files exist, and a moment more,
    so that the jobs writing them have returned before this one fails.
    """
    deadline = time.monotonic() + 1
    while after and not all(os.path.exists(path) for path in after) and time.monotonic() < deadline:
        time.sleep(0.02)
    if after:
        time.sleep(0.1)
    with open(flag, "w") as handle:
        handle.write("failed")
    return Failure("failed on purpose")


@job(output="value")
def wait_for_flag(path: str, flag: str, how: str):
    """Record each call as 'before' or 'after' the failure flag exists; wait (check or retry) until it does."""
    seen = os.path.exists(flag)
    with open(path, "a") as handle:
        handle.write("after\n" if seen else "before\n")
    if seen:
        return Success("ran after the failure")
    if how == "check":
        return CheckLater(wait_for=1)
    return Retry(wait_min=1, wait_max=1, max_retries=10)


# --- 11. missing outputs ---------------------------------------------------------------------


@job()
def delete_xcom_of(producer_job_id: str):
    """Airflow only: delete the XCom ``return_value`` of the task that runs job ``producer_job_id``."""
    from airflow.sdk import get_current_context
    from airflow.sdk.execution_time.xcom import XCom  # the configured XCom backend class

    context = get_current_context()
    ti = context["ti"]
    task = next(t for t in context["dag"].tasks if getattr(t, "hymir_job_id", None) == producer_job_id)
    XCom.delete(key="return_value", task_id=task.task_id, dag_id=ti.dag_id, run_id=ti.run_id, map_index=ti.map_index)
    return Success(task.task_id)


@job(inputs=["value"], output="received")
def record_and_receive(path: str, value):
    """Count a call, and report the single value of the input 'value' it received."""
    count_call(path)
    return Success({"got": value, "type": type(value).__name__})


# --- property test: a job following a script of results -------------------------------------


@job(inputs=["counter_dir", "job_state"])
def scripted(key: str, script: list, counter_dir: str, job_state, feed: list[Any] | None = None):
    """Return ``script[n]`` on the n-th call of this job in this run (0-based, counted in ``counter_dir/key``).

    Steps (JSON lists): ``["success", value]``, ``["failure", value]``, ``["retry", wait_max, max_retries]``,
    ``["check", wait_for, context]``, ``["raise", message]``; past the end, the last step repeats.
    A Success reports what the job saw: its value, its list input ``feed`` (if bound), and the
    retries, checks and context of its ``job_state``.
    """
    call = count_call(os.path.join(counter_dir, key)) - 1
    kind, *rest = script[min(call, len(script) - 1)]
    if kind == "success":
        return Success(
            {
                "value": rest[0],
                "feed": feed,
                "retries": job_state.retries,
                "checks": job_state.checks,
                "context": job_state.context,
            }
        )
    if kind == "failure":
        return Failure(rest[0])
    if kind == "retry":
        return Retry(wait_min=0, wait_max=rest[0], max_retries=rest[1])
    if kind == "check":
        return CheckLater(wait_for=rest[0], context=rest[1])
    raise ValueError(rest[0])


# --- callbacks -------------------------------------------------------------------------------


@job(inputs=["workflow_state"], output="report")
def report_status(workflow_state):
    """An ON_FINISHED callback: report the workflow's outcome."""
    return Success(workflow_state.status.value)


# --- Maps ------------------------------------------------------------------------------------


@job(output="items")
def list_items(items: list):
    """Return the list a Map goes over: each item a dict with the key and script its job follows."""
    return Success(items)


@job(inputs=["counter_dir", "job_state"], output="done")
def scripted_item(item: dict, counter_dir: str, job_state):
    """One item of a Map, following its own script as ``scripted`` does (counted under ``item["key"]``)."""
    return scripted.function(item["key"], item["script"], counter_dir, job_state)


@job(inputs=["done"], output="gathered")
def gather_items(done: list[Any]):
    """Gather the items' values, which must come in item order."""
    return Success(done)
