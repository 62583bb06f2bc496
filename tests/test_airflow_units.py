"""A unit on Airflow: the one task the factory builds for it, what a worker parses, its log and the Hymir view.

The semantics of units on both engines are pinned by tests/test_unit_parity.py; these tests pin
the Airflow shape that carries them.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.airflow
pytest.importorskip("airflow")

from hymir import Chain, Group, JobState, JobStatus, Unit, Workflow  # noqa: E402
from hymir_airflow import compat, workflow_to_dag  # noqa: E402
from hymir_airflow.compat import dag_serializer  # noqa: E402
from hymir_airflow.unit_operator import HymirUnitOperator  # noqa: E402
from tests.jobs import units as uj  # noqa: E402
from tests.parsing_context import set_parsing_context  # noqa: E402

DAG_ID = "hymir_unit_shape"


def unit_workflow(token: str = "shape") -> Workflow:
    """start -> Group(other, Chain(Unit(a -> b -> c), after)) -> finish: a unit inside nested containers."""
    unit = Unit(Chain(uj.step(token, "a"), uj.step(token, "b"), uj.join_steps(token, "c")), retries=2)
    inner = Group(uj.side(token, "other"), Chain(unit, uj.finish()))
    return Workflow(Chain(uj.step(token, "start"), inner, uj.gather()))


def parse(monkeypatch, task_id: str | None, workflow: Workflow | None = None):
    """The DAG as a parse with the parsing context naming ``task_id`` (None: no context) builds it."""
    set_parsing_context(monkeypatch, DAG_ID if task_id is not None else None, task_id)
    return workflow_to_dag(workflow or unit_workflow(), dag_id=DAG_ID)


def test_a_unit_is_one_task_whose_retries_are_the_units(monkeypatch):
    """No task per member: one HymirUnitOperator with the unit's retries (plus Airflow's for crashes), edged
    to the jobs around its members, inside the TaskGroup around it and not in one of its own."""
    dag = parse(monkeypatch, None)
    holder = set() if compat.HAS_TASK_STATE_STORE else {compat.RECORDS_TASK_ID}
    assert set(dag.task_ids) == {"step", "side", "unit_1", "finish", "gather", *holder}
    unit = dag.get_task("unit_1")
    assert isinstance(unit, HymirUnitOperator)
    assert unit.retries == 2 + 3
    assert unit.upstream_task_ids == {"step"}
    assert unit.downstream_task_ids == {"finish"}
    assert dag.get_task("finish").downstream_task_ids == {"gather"}
    assert unit.task_group.group_id == "chain_1"
    assert set(dag.task_group_dict) == {"group_1", "chain_1"}, "the Chain the unit holds gets no TaskGroup"
    assert unit.doc_md.splitlines()[2:5] == [
        '1. `step("shape", "a")`: job 3 (tests.jobs.units.step)',
        '1. `step("shape", "b")`: job 4 (tests.jobs.units.step)',
        '1. `join_steps("shape", "c")`: job 5 (tests.jobs.units.join_steps)',
    ]
    assert unit.job_task_ids["4"] == "unit_1" and dag.get_task("finish").job_task_ids["5"] == "unit_1"


def test_the_serialized_unit_task_keeps_its_members_and_serializes_alike_twice(monkeypatch):
    serializer = dag_serializer()
    first = serializer.to_dict(parse(monkeypatch, None))
    assert first == serializer.to_dict(parse(monkeypatch, None))
    unit = serializer.from_dict(first).get_task("unit_1")
    assert compat.hymir_job_id_of(unit) == "unit_1"
    assert [member[:2] for member in unit.hymir_members] == [
        ["3", "tests.jobs.units.step"],
        ["4", "tests.jobs.units.step"],
        ["5", "tests.jobs.units.join_steps"],
    ]


@pytest.mark.parametrize("task_id, built", [("unit_1", {"unit_1"}), ("finish", {"finish"})], ids=["unit", "consumer"])
def test_a_worker_builds_only_the_unit_it_runs(monkeypatch, task_id, built):
    assert set(parse(monkeypatch, task_id).task_ids) == built


def test_the_unit_task_logs_one_line_per_member_result(airflow_executor, capfd):
    token = "log"
    unit = Unit(Chain(uj.step(token, "a"), uj.join_steps(token, "c", fails=1)), retries=1)
    run_id = airflow_executor.run(Workflow(Chain(unit, uj.finish())), dag_id="hymir_unit_log")
    uj.CALLS.pop(token, None)
    log = "".join(capfd.readouterr())
    for call in (1, 2):
        assert f"job 1 (tests.jobs.units.step): 'log', 'a' -> Success(result='a#{call}')" in log
    assert "job 2 (tests.jobs.units.join_steps): 'log', 'c', fails=1, steps=['a#1'] -> Failure(" in log
    assert "unit_1: job 2 (tests.jobs.units.join_steps) returned Failure('c failed on call 1'); retry 1 of 1" in log
    assert airflow_executor.job_state(run_id, "3").result == "a#2"


def test_a_unit_retry_waits_its_retry_delay(airflow_executor):
    """The unit's second try starts no sooner than its retry_delay after the first failed (3.3: a retry policy;
    before: the operator's own wait)."""
    token = "delay"
    unit = Unit(Chain(uj.step(token, "a", fails=1)), retries=1, retry_delay=2)
    run_id = airflow_executor.run(Workflow(unit), dag_id="hymir_unit_delay")
    times = uj.TIMES.pop(token)
    uj.CALLS.pop(token, None)
    assert airflow_executor.job_state(run_id, "unit_1") == JobState(status=JobStatus.SUCCESS, retries=1)
    assert len(times) == 2 and times[1] - times[0] >= 2


def test_check_timeout_bounds_no_unit_pause():
    """A member checked again after the DAG's check_timeout still finishes: a unit's pauses are not job checks."""
    from hymir_airflow import AirflowExecutor

    token = "timeout"
    executor = AirflowExecutor(check_timeout=1, min_check_interval=0)
    workflow = Workflow(Unit(Chain(uj.waiting_step(token, "w", 2, wait=1))))
    run_id = executor.run(workflow, dag_id="hymir_unit_timeout")
    uj.CALLS.pop(token, None)
    assert executor.job_state(run_id, "unit_1") == JobState(status=JobStatus.SUCCESS, checks=2)
    assert executor.job_state(run_id, "1").checks == 2


def test_the_hymir_view_shows_the_unit_and_each_member(airflow_executor):
    """The run page has the unit's row (its task's state and retries) and one row per member, with its output;
    a member's whole value is served under ``unit_1~<id>``."""
    from hymir_airflow.ui.queries import job_value, run_detail

    token = "view"
    unit = Unit(Chain(uj.step(token, "a"), uj.step(token, "b", fails=1)), retries=1)
    run_id = airflow_executor.run(Workflow(Chain(unit, uj.gather())), dag_id="hymir_unit_view")
    uj.CALLS.pop(token, None)
    with compat.metadata_session() as session:
        detail = run_detail(session, compat.new_dag_bag(), "hymir_unit_view", run_id)
        rows = {row.job_id: row for row in detail.jobs}
        assert list(rows) == ["3", "unit_1", "1", "2"]
        assert [rows[job].state for job in rows] == ["success"] * 4
        assert (rows["unit_1"].retries, rows["unit_1"].try_number) == (1, 2)
        assert [rows[m].output.text for m in ("1", "2")] == ['"a#2"', '"b#2"']
        assert rows["2"].function == "tests.jobs.units.step"
        assert rows["2"].arguments.text == '"view", "b", fails=1'
        assert rows["2"].instance == "unit_1~2"
        assert job_value(session, compat.new_dag_bag(), "hymir_unit_view", run_id, "unit_1~2", "output") == "b#2"
