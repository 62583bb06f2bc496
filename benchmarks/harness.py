"""What every benchmark shares: a private Airflow home, interleaved timing, and the result table.

Each benchmark compares a Hymir side with the equivalent hand-written Airflow side. The sides
run interleaved (A B, then B A, ...) so that drift in machine load hits both alike, and each
figure is the median of the repetitions with their min–max range. A result row carries its
target, so the table says PASS or MISS by itself; ``run_all.py`` gathers the rows of every
script through ``--json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: The repository root, so that scripts run as ``.venv/bin/python benchmarks/<name>.py`` find hymir.
ROOT = Path(__file__).resolve().parent.parent


def use_private_airflow_home() -> Path:
    """Point Airflow at a fresh temporary home (SQLite, empty dags folder, no examples).

    Airflow reads its configuration when first imported, so call this before importing it.
    """
    home = Path(tempfile.mkdtemp(prefix="hymir-bench-airflow-"))
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(home / "dags")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    (home / "dags").mkdir()
    return home


def parse_args(
    description: str,
    default_repeat: int,
    quick_repeat: int,
    add_options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """The options every benchmark takes (``--quick``, ``--repeat``, ``--json``), and its own from ``add_options``."""
    parser = argparse.ArgumentParser(description=description)
    if add_options is not None:
        add_options(parser)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and smaller sizes")
    parser.add_argument(
        "--repeat", type=int, help=f"repetitions per side (default {default_repeat}, quick {quick_repeat})"
    )
    parser.add_argument("--json", type=Path, help="also write the result rows to this file (used by run_all.py)")
    args = parser.parse_args()
    if args.repeat is None:
        args.repeat = quick_repeat if args.quick else default_repeat
    return args


def interleave(sides: dict[str, Callable[[], float]], repeat: int) -> dict[str, list[float]]:
    """Run each side ``repeat`` times, alternating which goes first; each call returns its own measure.

    A side returns the figure it measured (seconds, bytes, ...) rather than being timed from
    outside, so that it can leave set-up and tear-down out. A full collection runs before each
    call, so that garbage of the previous call is not charged to the next.
    """
    names = list(sides)
    figures: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeat):
        for name in names if round_ % 2 == 0 else reversed(names):
            gc.collect()
            figures[name].append(sides[name]())
    return figures


class TimedTest:
    """Runs ``dag.test()`` once per call and returns its wall time; ``cpu`` collects its CPU time.

    The CPU time (of this process: the task runner and the in-process API server alike) is
    shown beside the wall time because other load on the machine disturbs it far less.
    """

    def __init__(self, dag: Any):
        self.dag = dag
        self.cpu: list[float] = []

    def __call__(self) -> float:
        started, started_cpu = time.perf_counter(), time.process_time()
        dag_run = self.dag.test()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        assert dag_run.state == "success", f"{self.dag.dag_id} ended {dag_run.state}"
        self.cpu.append(cpu)
        return elapsed


@dataclass(frozen=True)
class Spread:
    """The median of some figures, and their range."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, figures: list[float]) -> Spread:
        return cls(statistics.median(figures), min(figures), max(figures))

    def scaled(self, factor: float) -> Spread:
        return Spread(self.median * factor, self.low * factor, self.high * factor)

    def show(self, unit: str) -> str:
        return f"{number(self.median)} {unit} ({number(self.low)}–{number(self.high)})"


def number(value: float) -> str:
    """A figure with about three significant digits."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if value < 1 else f"{value:.2f}"


@dataclass(frozen=True)
class Row:
    """One line of the result table: a case, both sides, the measured ratio or growth, and its target."""

    benchmark: str
    case: str
    hymir: str
    airflow: str
    figure: str
    target: str
    passed: bool

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "MISS"


def ratio_row(
    benchmark: str,
    case: str,
    hymir: Spread,
    airflow: Spread,
    unit: str,
    limit: float,
    notes: tuple[str, str] = ("", ""),
) -> Row:
    """A row whose figure is the ratio of the medians (Hymir / Airflow), passing at or below ``limit``.

    ``notes`` adds a remark to the Hymir and the Airflow cell (a per-job figure, say).
    """
    ratio = hymir.median / airflow.median
    cells = [
        spread.show(unit) + (f"; {note}" if note else "") for spread, note in zip((hymir, airflow), notes, strict=True)
    ]
    return Row(benchmark, case, *cells, f"ratio {ratio:.2f}", f"<= {limit}", ratio <= limit)


HEADER = ("benchmark", "case", "Hymir: median (min–max)", "Airflow: median (min–max)", "figure", "target", "")


def markdown(rows: list[Row]) -> str:
    """The rows as a markdown table."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows:
        cells = (row.benchmark, row.case, row.hymir, row.airflow, row.figure, row.target, row.verdict)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(rows: list[Row], json_path: Path | None) -> None:
    """Print the rows as a markdown table and, when asked, write them as JSON for run_all.py."""
    print(markdown(rows))
    if json_path is not None:
        json_path.write_text(json.dumps([asdict(row) for row in rows]))


def load_rows(json_path: Path) -> list[Row]:
    """The rows that a benchmark wrote with ``--json``."""
    return [Row(**data) for data in json.loads(json_path.read_text())]


def timed_tests_row(benchmark: str, case: str, dags: dict[str, Any], repeat: int, limit: float) -> Row:
    """Run the ``hymir`` and ``airflow`` DAGs' ``dag.test()`` in turns; a wall-time ratio row, CPU times as notes."""
    tests = {side: TimedTest(dag) for side, dag in dags.items()}
    figures = interleave(dict(tests), repeat)
    cpu = {side: Spread.of(test.cpu) for side, test in tests.items()}
    notes = (
        f"CPU {cpu['hymir'].show('s')}, ratio {cpu['hymir'].median / cpu['airflow'].median:.2f}",
        f"CPU {cpu['airflow'].show('s')}",
    )
    hymir, airflow = Spread.of(figures["hymir"]), Spread.of(figures["airflow"])
    return ratio_row(benchmark, case, hymir, airflow, "s", limit, notes)


def progress(message: str) -> None:
    """A line on stderr, so that stdout stays the table alone."""
    print(message, file=sys.stderr, flush=True)
