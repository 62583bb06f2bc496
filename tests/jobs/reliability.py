"""Job functions (and workflows) for the reliability, bad-input and security tests.

Jobs that must be observed from outside write small files (named by an argument or a workflow
param), so the tests see what happened whichever process, worker or thread ran them.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from pathlib import Path

from hymir import Chain, CheckLater, Group, JobState, Retry, Success, Workflow, job

log = logging.getLogger(__name__)


def _note(directory: str, name: str, data: dict) -> None:
    """Write one JSON note atomically into ``directory`` (shared by every process of the machine)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(data))
    temporary.replace(folder / name)


# --- ordering: start/finish sequence numbers, keyed by a token per test run ----------------------

_SEQUENCE = itertools.count(1)
_EVENTS: dict[str, list[tuple[str, int, int]]] = {}
_EVENTS_LOCK = threading.Lock()


def events(token: str) -> list[tuple[str, int, int]]:
    """The ``(event, label, sequence)`` triples recorded for ``token``, event being "start" or "finish"."""
    with _EVENTS_LOCK:
        return list(_EVENTS.get(token, []))


def _record(token: str, event: str, label: int) -> None:
    with _EVENTS_LOCK:
        _EVENTS.setdefault(token, []).append((event, label, next(_SEQUENCE)))


@job()
def step(token: str, label: int):
    """Record its start and finish (with a global sequence number) under ``token``."""
    _record(token, "start", label)
    time.sleep(0.001)
    _record(token, "finish", label)


# --- bad outputs ------------------------------------------------------------------------------


class Opaque:
    """An object JSON cannot carry."""


_UNSAFE = {
    "set": lambda: {1, 2},
    "tuple": lambda: (1, 2),
    "nan": lambda: float("nan"),
    "infinity": lambda: float("inf"),
    "bytes": lambda: b"raw",
    "int-key": lambda: {1: "one"},
    "object": lambda: Opaque(),
    "nested-set": lambda: {"rows": [1, {"tags": {"a"}}]},
}


@job(output="value")
def unsafe_output(kind: str):
    """Return a value that JSON cannot carry unchanged (chosen by ``kind``)."""
    return Success(_UNSAFE[kind]())


@job(output="numbers")
def many_numbers(count: int):
    """Return a list of ``count`` numbers (large enough to go to the object-storage XCom backend)."""
    return Success(list(range(count)))


@job(inputs=["numbers"], output="received")
def receive_numbers(numbers: list, note_dir: str):
    """Note what arrived (as seen inside Airflow) and return a small summary (below the storage threshold)."""
    (value,) = numbers
    _note(note_dir, "received.json", {"value": value})
    return Success(len(value))


# --- secrets ----------------------------------------------------------------------------------


@job(output="secret_length")
def use_secret(templated: str, also_print: bool = False):
    """Read the secret Variable and Connection, log them, and return only a harmless length.

    ``also_print`` prints them too: a task's stdout is masked by the worker's supervisor, so only
    on a deployment (dag.test runs the task in the test process, with no supervisor to mask stdout).
    """
    from airflow.sdk import Connection, Variable

    secret = Variable.get("api_key")
    password = Connection.get("hymir_secret_api").password
    log.info("the variable is %s, the templated argument is %s, the password is %s", secret, templated, password)
    if also_print:
        print(f"printing the variable: {secret}; the templated argument: {templated}; the password: {password}")
    return Success(len(secret) + len(password) + len(templated))


def secret_workflow(also_print: bool = True) -> Workflow:
    """One job that reads a sensitive Variable and Connection and gets the Variable as a templated argument."""
    return Workflow(
        Chain(use_secret("{{ var.value.api_key }}", also_print).with_meta(airflow={"render_templates": True}))
    )


# --- execution timeout -------------------------------------------------------------------------


@job(output="value")
def hang(calls_path: str, seconds: float = 120):
    """Record the call, then hang far longer than the task's execution_timeout."""
    with open(calls_path, "a") as handle:
        handle.write(f"{time.time()}\n")
    time.sleep(seconds)
    return Success("should never get here")


# --- worker killed: producers that hang on their first try, and a list consumer -----------------


def _try_number(note_dir: str, prefix: str) -> int:
    """This call's number, from the notes earlier calls left (an Airflow retry is not a retry the job asked for)."""
    return 1 + sum(name.startswith(prefix) for name in os.listdir(note_dir)) if os.path.isdir(note_dir) else 1


@job(inputs=["note_dir"], output="produced")
def victim(index: int, seconds: float, *, note_dir: str):
    """Note which worker runs this try; work ``seconds`` on the first try, return at once on a retry."""
    try_number = _try_number(note_dir, f"victim-{index}-try-")
    _note(
        note_dir,
        f"victim-{index}-try-{try_number}.json",
        {"worker": os.environ.get("HYMIR_COMPONENT"), "pid": os.getpid(), "at": time.time()},
    )
    if try_number == 1:
        time.sleep(seconds)
    return Success({"index": index, "try": try_number})


@job(inputs=["note_dir"], output="fragile")
def fragile(seconds: float, *, note_dir: str):
    """Like ``victim``, but its task has retries=0: a lost worker fails it for good."""
    try_number = _try_number(note_dir, "fragile-try-")
    _note(
        note_dir,
        f"fragile-try-{try_number}.json",
        {"worker": os.environ.get("HYMIR_COMPONENT"), "pid": os.getpid(), "at": time.time()},
    )
    time.sleep(seconds)
    return Success("fragile survived")


@job(inputs=["produced"], output="collected")
def collect(produced: list[dict]):
    """Receive every producer's value."""
    return Success(produced)


def killed_worker_workflow(producers: int = 4, seconds: float = 30) -> Workflow:
    """Producers (retries=1) feeding a list consumer, beside a job whose task has no retries."""
    victims = [victim(index, seconds).with_meta(airflow={"retries": 1}) for index in range(producers)]
    return Workflow(
        Group(Chain(Group(*victims), collect()), fragile(seconds).with_meta(airflow={"retries": 0})),
        params={"note_dir": ""},
    )


# --- scheduler killed while a CheckLater job waits ----------------------------------------------


@job(inputs=["job_state", "note_dir"], output="waited")
def wait_and_remember(wait_for: int, *, job_state: JobState, note_dir: str):
    """Ask once to be checked ``wait_for`` s later, keeping notes in the context; then report them."""
    now = time.time()
    if not job_state.context:
        _note(note_dir, "first-check.json", {"at": now, "worker": os.environ.get("HYMIR_COMPONENT")})
        return CheckLater(wait_for=wait_for, context={"first_check": now, "note": "kept across restarts", "n": [1, 2]})
    _note(note_dir, "second-check.json", {"at": now})
    return Success(
        {
            "context": job_state.context,
            "checks": job_state.checks,
            "retries": job_state.retries,
            "waited": now - job_state.context["first_check"],
        }
    )


@job(inputs=["waited"], output="after")
def after_wait(waited: dict):
    """Run once the waiting job is done (the restarted scheduler must schedule it)."""
    return Success(round(waited["waited"], 1))


def waiting_workflow(wait_for: int = 25) -> Workflow:
    return Workflow(Chain(wait_and_remember(wait_for), after_wait()), params={"note_dir": ""})


# --- database connections cut mid-run ------------------------------------------------------------


@job(output="first")
def slow_value(index: int, seconds: float):
    """Work a little, then return a value."""
    time.sleep(seconds)
    return Success({"index": index, "square": index * index})


@job(inputs=["first"], output="middle")
def combine(first: list[dict]):
    """Receive every first-wave value."""
    return Success(sorted(item["index"] for item in first))


@job(inputs=["middle"], output="second")
def slow_more(index: int, seconds: float, middle):
    """Work a little after the middle job, with its value."""
    time.sleep(seconds)
    return Success({"index": index, "seen": len(middle)})


@job(inputs=["first", "middle", "second"], output="final")
def final_summary(first: list[dict], middle, second: list[dict]):
    """Receive everything produced before and after the cut."""
    return Success(
        {"first": [item["index"] for item in first], "middle": middle, "second": [item["index"] for item in second]}
    )


def database_cut_workflow(width: int = 4, seconds: float = 8) -> Workflow:
    return Workflow(
        Chain(
            Group(*(slow_value(i, seconds) for i in range(width))),
            combine(),
            Group(*(slow_more(i, seconds) for i in range(width))),
            final_summary(),
        )
    )


# --- load: a 20-job workflow with groups, outputs, a Retry and a CheckLater job ------------------


@job(output="seed")
def seed():
    """The first job: a small value every part needs."""
    return Success(7)


@job(inputs=["seed"], output="part")
def part(index: int, seed: int):
    """One of the parallel parts."""
    return Success({"index": index, "value": index * seed})


@job(inputs=["job_state"], output="flaky")
def flaky_once(*, job_state: JobState):
    """Ask for one retry, then succeed with the number of retries seen."""
    if job_state.retries < 1:
        return Retry(wait_min=1, wait_max=2, max_retries=2)
    return Success(job_state.retries)


@job(inputs=["job_state"], output="checked")
def check_once(*, job_state: JobState):
    """Ask to be checked later once; succeed at the second check with the number of checks."""
    if not job_state.context:
        return CheckLater(wait_for=1, context={"first": time.time()})
    return Success(job_state.checks)


@job(inputs=["part"], output="total")
def total(part: list[dict]):
    return Success(sum(item["value"] for item in part))


@job(inputs=["part"], output="biggest")
def biggest(part: list[dict]):
    return Success(max(item["value"] for item in part))


@job(inputs=["part"], output="smallest")
def smallest(part: list[dict]):
    return Success(min(item["value"] for item in part))


@job(inputs=["part", "flaky", "checked", "total", "biggest", "smallest"], output="summary")
def summary(part: list[dict], flaky: int, checked: int, total: int, biggest: int, smallest: int):
    return Success(
        {
            "indexes": [item["index"] for item in part],
            "flaky": flaky,
            "checked": checked,
            "total": total,
            "biggest": biggest,
            "smallest": smallest,
        }
    )


@job(inputs=["part"], output="count")
def count_parts(part: list[dict]):
    return Success(len(part))


LOAD_PARTS = 12


def load_workflow(parts: int = LOAD_PARTS) -> Workflow:
    """1 seed, 12 parallel parts, 5 jobs in parallel (Retry, CheckLater, 3 list consumers), 2 final jobs."""
    return Workflow(
        Chain(
            seed(),
            Group(*(part(index) for index in range(parts))),
            Group(flaky_once(), check_once(), total(), biggest(), smallest()),
            Group(summary(), count_parts()),
        )
    )


def expected_load_outputs(parts: int = LOAD_PARTS) -> dict:
    """The complete outputs of one run of ``load_workflow``."""
    values = [index * 7 for index in range(parts)]
    return {
        "seed": [7],
        "part": [{"index": index, "value": index * 7} for index in range(parts)],
        "flaky": [1],
        "checked": [1],
        "total": [sum(values)],
        "biggest": [max(values)],
        "smallest": [min(values)],
        "summary": [
            {
                "indexes": list(range(parts)),
                "flaky": 1,
                "checked": 1,
                "total": sum(values),
                "biggest": max(values),
                "smallest": min(values),
            }
        ],
        "count": [parts],
    }
