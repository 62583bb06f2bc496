"""Runs every benchmark, each in its own interpreter, and prints one markdown table of all results.

Each script runs as ``<python> benchmarks/<name>.py --json <file>`` (plus ``--quick`` when
given), so that every one starts from a fresh Airflow home and a fresh heap; their progress
goes to stderr, the combined table to stdout (and to ``--output`` when given), with the load
average before and after (wall-clock figures mean little on a busy machine). The exit status
is 1 when a target is missed or a script fails.

``checklater_scale`` (a real deployment running four DAGs of waiting tasks; about an hour, three
minutes with ``--quick``), ``map_scale`` (``dag.test()`` of 1,000 mapped items; several minutes)
and ``unit_scale`` (a real deployment running a Chain of 100 jobs as one Unit and as separate
tasks; about 10 minutes) run only when named: ``--only checklater_scale,map_scale,unit_scale``.

Run: ``.venv/bin/python benchmarks/run_all.py [--quick] [--only build,run] [--output FILE]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Row, load_rows, markdown, progress

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("build", "worker_parse", "import_cost", "run", "fanin", "memory")
#: Benchmarks that run only when ``--only`` names them, since they take far longer than the rest.
OPT_IN = ("checklater_scale", "map_scale", "unit_scale")


def run_one(name: str, quick: bool, folder: Path) -> list[Row]:
    """Run one benchmark script and return its rows; raises CalledProcessError when it fails."""
    json_path = folder / f"{name}.json"
    command = [sys.executable, str(HERE / f"{name}.py"), "--json", str(json_path), *(["--quick"] if quick else [])]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    progress(f"run_all: {name} took {time.perf_counter() - started:.0f} s")
    return load_rows(json_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument(
        "--only", help=f"comma-separated subset of {', '.join(BENCHMARKS)}, or the opt-in {', '.join(OPT_IN)}"
    )
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS) - set(OPT_IN))
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; choose from {', '.join((*BENCHMARKS, *OPT_IN))}")

    rows: list[Row] = []
    failed: list[str] = []
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="hymir-bench-") as folder:
        for name in names:
            try:
                rows.extend(run_one(name, args.quick, Path(folder)))
            except subprocess.CalledProcessError as error:
                failed.append(f"{name} (exit status {error.returncode})")
    table = markdown(rows)
    summary = (
        f"{sum(row.passed for row in rows)} of {len(rows)} targets met in {time.perf_counter() - started:.0f} s; "
        f"load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores"
    )
    if failed:
        summary += f"; failed: {', '.join(failed)}"
    print(f"{table}\n\n{summary}")
    if args.output:
        args.output.write_text(f"{table}\n\n{summary}\n")
    sys.exit(1 if failed or not all(row.passed for row in rows) else 0)


if __name__ == "__main__":
    main()
