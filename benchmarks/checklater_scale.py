"""CheckLater at scale: a deployment's CPU and wall time for N parallel waiting tasks, Hymir beside native sensors.

Each of four DAGs has ``--jobs`` (N, 100) parallel tasks that check ``--checks`` (C, 3) times
``--wait`` (W, 15) seconds apart and then succeed (``checklater_jobs.py`` builds them):

1. Hymir, reschedule mode: a Group of N jobs that return ``CheckLater(wait_for=W)`` until
   ``job_state.checks`` reaches C;
2. Hymir with deferral: the same workflow, ``workflow_to_dag(..., deferrable=True)``;
3. native reschedule: ``PythonSensor(mode="reschedule", poke_interval=W)``, true on its
   (C+1)-th poke (each task counts its pokes in a file of its own);
4. native deferrable: ``WaitSensor(time_to_wait=C*W, deferrable=True)`` of the standard
   provider. Airflow has no deferrable sensor that checks C times; this is the closest that waits
   C*W seconds in all, on the same time trigger Hymir defers on: it defers once and the triggerer
   ends the task (``end_from_trigger``), so no worker starts again. It is the cheapest deferrable
   wait, a lower bound rather than a twin: Hymir's deferred job resumes on a worker after each of
   its C waits, as a job that really checks something must.

Hymir's ``min_check_interval`` is set to W, so every DAG waits W (the default, 15 s, is W at
full scale); native tasks get Hymir's default Airflow retries (3, 10 s apart). With W well below
15 s, expect a few Airflow retries on both reschedule sides: the scheduler's reschedule race
(apache/airflow#71172) puts a sensor up for retry when the executor's report of its previous
check arrives after its next one was due (one ``--quick`` run also had one on Hymir's deferral
side, not yet looked into).

For each ``--parallelism`` (4 and 8) a fresh embedded deployment starts in a temporary home
(``hymir_airflow.launcher.LocalDeployment``: SQLite, LocalExecutor, scheduler, api-server,
dag-processor and triggerer) with ``core.parallelism`` and the default pool's slots at that
value, the four DAG files in its DAGs folder, and a fifth file with one-task DAGs of each kind.
Those run once, unmeasured, since a fresh deployment's first tasks pay for the api-server's first
answers (seconds of CPU). Then the four DAGs take turns (A B C D, then D C B A, ...), one run at
a time, ``--repeats`` (2) runs of each; figures are medians (min–max). Per run:

* wall time: the DAG run's start to its end, as Airflow stamps them;
* CPU time per component, from just before the run is triggered to when it is seen finished:
  the user + system CPU of the component's whole process tree, read with psutil as each process's
  own time plus that of the children it reaped (Linux's cutime and cstime), summed over the tree's
  live processes. Reaped processes (every task process, every parse of the dag-processor) stay
  counted in the process that reaped them, so the sum only grows and two readings' difference is
  exactly what the tree spent between them (only a process orphaned to init would be lost; these
  trees reap their own); a reading in which a listed process vanished is taken again. The
  scheduler's tree is split: its own process is *scheduler*, its descendants (the LocalExecutor's
  long-lived worker processes, which supervise each task, and the task processes they fork) are
  *tasks*. The dag-processor parses all five files throughout, so its share is a background
  that grows with wall time; the api-server's includes this script's polling (every 2 s) and
  every task's calls to the execution API;
* reschedules: the run's ``task_reschedule`` rows, and Airflow retries: its tries beyond the
  first, both read from the SQLite database afterwards;
* failures: the run's task instances that did not end in success;
* worker parse: the median ``dag_file_parse_ms`` of the run's task logs ("Worker startup parse
  complete", logged before every try, check and resume).

Targets (CPU, medians): Hymir reschedule / native reschedule <= 1.0, Hymir deferral / native
deferrable <= 1.0, Hymir deferral / native reschedule <= 0.6. A row also misses when a run had
failures. ``--quick`` measures 8 jobs checking twice 4 s apart at parallelism 4, once each
(about 3 minutes); the full scale should take about an hour on 2 cores (an estimate from small runs).

Run: ``.venv/bin/python benchmarks/checklater_scale.py [--quick] [--jobs N] [--checks C] [--wait W]
[--parallelism 4,8] [--repeats R] [--timeout S] [--json FILE]``; ``run_all.py`` runs it only when
asked (``--only checklater_scale``).
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from hymir_airflow.launcher import DeploymentError, LocalDeployment, free_port

from deployment_api import POLL, Api, finish, timestamp
from harness import ROOT, Row, Spread, interleave, number, progress, report

HERE = Path(__file__).resolve().parent

#: The DAGs compared, by id, and what builds each in its DAG file (``{jobs}`` and so on filled in).
DAGS = {
    "checklater_hymir_reschedule": "hymir_dag({dag_id!r}, {jobs}, {checks}, {wait}, deferrable=False)",
    "checklater_hymir_deferral": "hymir_dag({dag_id!r}, {jobs}, {checks}, {wait}, deferrable=True)",
    "checklater_native_reschedule": "native_reschedule_dag({dag_id!r}, {jobs}, {checks}, {wait}, {pokes!r})",
    "checklater_native_deferrable": "native_deferrable_dag({dag_id!r}, {jobs}, {checks}, {wait})",
}
DAG_FILE = '''"""Airflow {what} of benchmarks/checklater_scale.py."""
from checklater_jobs import hymir_dag, native_deferrable_dag, native_reschedule_dag

{dags}
'''
#: Where CPU time is charged: the components, with the scheduler's descendants apart as "tasks".
PARTS = ("scheduler", "tasks", "api-server", "dag-processor", "triggerer")
#: (case, Hymir DAG, native DAG, target of the CPU ratio)
COMPARISONS = (
    ("reschedule", "checklater_hymir_reschedule", "checklater_native_reschedule", 1.0),
    ("deferral", "checklater_hymir_deferral", "checklater_native_deferrable", 1.0),
    ("deferral vs native reschedule", "checklater_hymir_deferral", "checklater_native_reschedule", 0.6),
)


@dataclass(frozen=True)
class Scale:
    """How many tasks wait, how often each checks, and how long apart."""

    jobs: int
    checks: int
    wait: float

    def __str__(self) -> str:
        return f"{self.jobs} jobs, {self.checks} check{'s' * (self.checks != 1)} each {self.wait:g} s apart"

    def default_timeout(self, parallelism: int) -> float:
        """A generous limit for one run: its waits, plus 10 s per task try at this parallelism, plus 5 minutes."""
        return 300 + 3 * self.checks * self.wait + 10 * self.jobs * (self.checks + 1) / parallelism


@dataclass(frozen=True)
class Measure:
    """What one DAG run cost: wall seconds, CPU seconds per part, reschedules, Airflow retries and failed tasks.

    ``worker_parse`` is the median of the run's worker parses (milliseconds), as the task logs say.
    """

    wall: float
    cpu: dict[str, float]
    reschedules: int
    retries: int
    failures: int
    worker_parse: float

    @property
    def total_cpu(self) -> float:
        return sum(self.cpu.values())


class CpuMeter:
    """Reads the CPU seconds each part of a deployment has spent so far (see the module docstring)."""

    def __init__(self, deployment: LocalDeployment):
        self.leaders = {name: psutil.Process(process.pid) for name, process in deployment.processes.items()}

    def read(self, attempts: int = 100) -> dict[str, float]:
        """The CPU seconds per part; read again when a process exits while being read."""
        for _ in range(attempts):
            spent = self._read_once()
            if spent is not None:
                return spent
            time.sleep(0.02)
        raise RuntimeError(f"could not read the components' CPU time in {attempts} attempts: processes kept exiting")

    def _read_once(self) -> dict[str, float] | None:
        spent = dict.fromkeys(PARTS, 0.0)
        for name, leader in self.leaders.items():
            try:
                # Parents come before their children, so a child reaped after its parent was read is
                # missed (and the reading retried) rather than counted twice.
                tree = [leader, *leader.children(recursive=True)]
            except psutil.NoSuchProcess:
                raise DeploymentError(f"the {name} exited during the benchmark") from None
            for process in tree:
                try:
                    times = process.cpu_times()
                except psutil.NoSuchProcess:
                    return None
                part = "tasks" if name == "scheduler" and process is not leader else name
                spent[part] += times.user + times.system + times.children_user + times.children_system
        return spent


class DagRuns:
    """Runs one DAG once per call and returns the run's wall time; ``measures`` keeps all it measured."""

    def __init__(
        self, deployment: LocalDeployment, api: Api, meter: CpuMeter, dag_id: str, scale: Scale, timeout: float
    ):
        self.deployment, self.api, self.meter = deployment, api, meter
        self.dag_id, self.scale, self.timeout = dag_id, scale, timeout
        self.measures: list[Measure] = []

    def __call__(self) -> float:
        before = self.meter.read()
        run_id = self.api.trigger(self.dag_id)
        run = finish(self.deployment, self.api, self.dag_id, run_id, self.timeout)
        after = self.meter.read()
        reschedules, retries, failures = self.task_counts(run_id)
        measure = Measure(
            wall=(timestamp(run["end_date"]) - timestamp(run["start_date"])).total_seconds(),
            cpu={part: after[part] - before[part] for part in PARTS},
            reschedules=reschedules,
            retries=retries,
            failures=failures,
            worker_parse=self.worker_parse(run_id),
        )
        self.measures.append(measure)
        progress(
            f"checklater_scale: {self.dag_id} {run['state']} in {measure.wall:.0f} s, CPU {measure.total_cpu:.1f} s "
            f"({', '.join(f'{part} {measure.cpu[part]:.1f}' for part in PARTS)}), {reschedules} reschedules, "
            f"{retries} Airflow retries, {failures} failed, worker parse {measure.worker_parse:.0f} ms"
        )
        time.sleep(POLL)  # let the last task processes exit before the next run is measured
        return measure.wall

    def task_counts(self, run_id: str) -> tuple[int, int, int]:
        """The run's reschedules (of every try), Airflow retries, and task instances that did not succeed."""
        database = f"file:{self.deployment.home / 'airflow.db'}?mode=ro"
        with sqlite3.connect(database, uri=True, timeout=60) as connection:
            states = {
                state: (count, tries)
                for state, count, tries in connection.execute(
                    "SELECT state, COUNT(*), SUM(try_number) FROM task_instance"
                    " WHERE dag_id = ? AND run_id = ? GROUP BY state",
                    (self.dag_id, run_id),
                )
            }
            (reschedules,) = connection.execute(
                "SELECT COUNT(*) FROM task_reschedule WHERE ti_id IN ("
                " SELECT id FROM task_instance WHERE dag_id = ? AND run_id = ?"
                " UNION SELECT task_instance_id FROM task_instance_history WHERE dag_id = ? AND run_id = ?)",
                (self.dag_id, run_id, self.dag_id, run_id),
            ).fetchone()
        tasks = sum(count for count, _ in states.values())
        if tasks != self.scale.jobs:
            raise RuntimeError(f"run {run_id} of {self.dag_id} has {tasks} task instances, not {self.scale.jobs}")
        retries = sum(tries for _, tries in states.values()) - tasks
        return int(reschedules), retries, tasks - states.get("success", (0, 0))[0]

    def worker_parse(self, run_id: str) -> float:
        """The median time a worker took to parse the DAG file before a task (every try, check and resume)."""
        folder = self.deployment.home / "logs" / f"dag_id={self.dag_id}" / f"run_id={run_id}"
        parses = [
            json.loads(line)["dag_file_parse_ms"]
            for log in folder.glob("task_id=*/attempt=*.log")
            for line in log.read_text(errors="replace").splitlines()
            if '"Worker startup parse complete"' in line
        ]
        return statistics.median(parses) if parses else math.nan


def write_dag_files(dags: Path, pokes: Path, scale: Scale) -> list[str]:
    """Write one file per DAG compared, and one with a DAG of each kind with one task; returns the warm-up DAGs."""
    warmups = {dag_id.replace("checklater_", "checklater_warmup_"): call for dag_id, call in DAGS.items()}
    for dag_id, call in DAGS.items():
        dag = "dag = " + call.format(dag_id=dag_id, **asdict(scale), pokes=str(pokes))
        (dags / f"{dag_id}.py").write_text(DAG_FILE.format(what="DAG", dags=dag))
    one = Scale(jobs=1, checks=1, wait=scale.wait)
    lines = [
        f"dag_{index} = " + call.format(dag_id=dag_id, **asdict(one), pokes=str(pokes))
        for index, (dag_id, call) in enumerate(warmups.items())
    ]
    (dags / "checklater_warmup.py").write_text(
        DAG_FILE.format(what="DAGs that warm up the deployment", dags="\n".join(lines))
    )
    return list(warmups)


def warm_up(deployment: LocalDeployment, api: Api, dag_ids: list[str], timeout: float) -> None:
    """Run the warm-up DAGs at once: a fresh deployment's first tasks pay for the api-server's first answers."""
    progress("checklater_scale: warming up (one task of each kind, not measured)")
    runs = {dag_id: api.trigger(dag_id) for dag_id in dag_ids}
    for dag_id, run_id in runs.items():
        finish(deployment, api, dag_id, run_id, timeout)
    time.sleep(POLL)


def measure_at(parallelism: int, scale: Scale, repeats: int, timeout: float | None) -> dict[str, list[Measure]]:
    """Start a deployment at ``parallelism``, run each DAG ``repeats`` times in turns, and stop it again."""
    with tempfile.TemporaryDirectory(prefix="hymir-checklater-", ignore_cleanup_errors=True) as folder:
        dags, pokes = Path(folder) / "dags", Path(folder) / "pokes"
        dags.mkdir()
        pokes.mkdir()
        warmups = write_dag_files(dags, pokes, scale)
        deployment = LocalDeployment(
            home=Path(folder) / "airflow",
            dags_folder=dags,
            port=free_port(),
            parallelism=parallelism,
            python_path=[HERE, ROOT],
            extra_env={"AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT": str(parallelism)},
        )
        progress(f"checklater_scale: starting a deployment at parallelism {parallelism} in {folder}")
        try:
            deployment.start(report=lambda message: progress(f"checklater_scale: {message}"))
            api = Api(deployment)
            api.wait_for_dags([*DAGS, *warmups], timeout=300)
            limit = timeout if timeout is not None else scale.default_timeout(parallelism)
            warm_up(deployment, api, warmups, limit)
            meter = CpuMeter(deployment)
            runs = {dag_id: DagRuns(deployment, api, meter, dag_id, scale, limit) for dag_id in DAGS}
            interleave(dict(runs), repeats)
            return {dag_id: dag_runs.measures for dag_id, dag_runs in runs.items()}
        finally:
            deployment.stop(report=lambda message: progress(f"checklater_scale: {message}"))


def cell(measures: list[Measure]) -> str:
    """A DAG's figures (medians, failures summed): CPU in total and per part, wall time, reschedules, retries."""
    parts = ", ".join(f"{part} {number(statistics.median(m.cpu[part] for m in measures))}" for part in PARTS)
    wall = Spread.of([m.wall for m in measures])
    reschedules = statistics.median(m.reschedules for m in measures)
    retries = statistics.median(m.retries for m in measures)
    parse = statistics.median(m.worker_parse for m in measures)
    return (
        f"CPU {Spread.of([m.total_cpu for m in measures]).show('s')}: {parts}; wall {wall.show('s')}; "
        f"{reschedules:g} reschedules, {retries:g} Airflow retries, {sum(m.failures for m in measures)} failed; "
        f"worker parse {parse:.0f} ms"
    )


def rows_at(parallelism: int, scale: Scale, measures: dict[str, list[Measure]]) -> list[Row]:
    """The three comparisons at one parallelism, each a ratio of median CPU totals."""
    rows = []
    for case, hymir, native, limit in COMPARISONS:
        ratio = statistics.median(m.total_cpu for m in measures[hymir]) / statistics.median(
            m.total_cpu for m in measures[native]
        )
        clean = not any(m.failures for m in [*measures[hymir], *measures[native]])
        rows.append(
            Row(
                "checklater_scale",
                f"{case}: {scale}, parallelism {parallelism}",
                f"{hymir.removeprefix('checklater_')}: {cell(measures[hymir])}",
                f"{native.removeprefix('checklater_')}: {cell(measures[native])}",
                f"CPU ratio {ratio:.2f}",
                f"<= {limit}",
                ratio <= limit and clean,
            )
        )
    return rows


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 jobs, 2 checks 4 s apart, parallelism 4, 1 repeat")
    parser.add_argument("--jobs", type=int, help="parallel waiting tasks per DAG (default 100)")
    parser.add_argument("--checks", type=int, help="CheckLater results (pokes that fail) per task (default 3)")
    parser.add_argument("--wait", type=float, help="seconds between checks (default 15)")
    parser.add_argument(
        "--parallelism", help="comma-separated core.parallelism values, one deployment each (default 4,8)"
    )
    parser.add_argument("--repeats", type=int, help="runs of each DAG per parallelism (default 2)")
    parser.add_argument("--timeout", type=float, help="seconds one run may take (default: from the scale)")
    parser.add_argument("--json", type=Path, help="also write the result rows to this file (used by run_all.py)")
    args = parser.parse_args()
    defaults = {"jobs": 8, "checks": 2, "wait": 4.0, "parallelism": "4", "repeats": 1} if args.quick else {}
    for option, default in {"jobs": 100, "checks": 3, "wait": 15.0, "parallelism": "4,8", "repeats": 2}.items():
        if getattr(args, option) is None:
            setattr(args, option, defaults.get(option, default))
    return args


def main() -> None:
    args = parse_args()
    scale = Scale(args.jobs, args.checks, args.wait)
    rows: list[Row] = []
    for parallelism in (int(value) for value in args.parallelism.split(",")):
        measures = measure_at(parallelism, scale, args.repeats, args.timeout)
        rows.extend(rows_at(parallelism, scale, measures))
    report(rows, args.json)


if __name__ == "__main__":
    main()
