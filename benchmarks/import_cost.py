"""Benchmark: what importing the adapter adds to a DAG file, over ``import airflow.sdk``.

Every measurement is a fresh interpreter on a private AIRFLOW_HOME. The Airflow side runs
``import airflow.sdk``; the Hymir side runs ``import airflow.sdk`` and then
``import hymir_airflow; hymir_airflow.workflow_to_dag`` (the factory is imported on first use),
timing that second statement inside the interpreter with ``time.perf_counter``. The two kinds
of interpreter run in turns. The figure is the median of that in-process extra: the difference
of whole-process wall times (also shown, for medians and minimums) carries the noise of
starting Python and Airflow and of shutting them down (about 2 s in all), which on a busy
machine is several times larger than the effect. Target: extra <= 50 ms.

Run: ``.venv/bin/python benchmarks/import_cost.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

from harness import Row, Spread, interleave, parse_args, progress, report, use_private_airflow_home

TARGET_MS = 50

AIRFLOW_SIDE = "import airflow.sdk"

#: Prints the seconds that the adapter's import took after ``import airflow.sdk``.
HYMIR_SIDE = """
import time
import airflow.sdk
started = time.perf_counter()
import hymir_airflow
hymir_airflow.workflow_to_dag
print(time.perf_counter() - started)
"""


def interpreter(code: str, extras: list[float]) -> Callable[[], float]:
    """Runs ``code`` in a fresh interpreter; returns its wall time and keeps what it prints in ``extras``."""

    def run() -> float:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        elapsed = time.perf_counter() - started
        if done.stdout.strip():
            extras.append(float(done.stdout.strip().splitlines()[-1]))
        return elapsed

    return run


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], default_repeat=5, quick_repeat=3)
    use_private_airflow_home()  # inherited by the interpreters
    extras: list[float] = []
    progress(f"import_cost: fresh interpreters, {args.repeat} x each side")
    sides = {"hymir": interpreter(HYMIR_SIDE, extras), "airflow": interpreter(AIRFLOW_SIDE, [])}
    figures = interleave(sides, args.repeat)
    hymir, airflow = Spread.of(figures["hymir"]), Spread.of(figures["airflow"])
    extra = Spread.of(extras).scaled(1000)
    medians, minimums = ((hymir.median - airflow.median) * 1000, (hymir.low - airflow.low) * 1000)
    row = Row(
        "import_cost",
        "import hymir_airflow; hymir_airflow.workflow_to_dag",
        f"{hymir.show('s')} whole process; the statement: {extra.show('ms')}",
        f"{airflow.show('s')} whole process (import airflow.sdk)",
        f"extra {extra.median:.0f} ms "
        f"(whole processes: medians differ by {medians:.0f} ms, minimums by {minimums:.0f} ms)",
        f"<= {TARGET_MS} ms",
        extra.median <= TARGET_MS,
    )
    report([row], args.json)


if __name__ == "__main__":
    main()
