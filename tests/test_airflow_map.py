"""A mapped job on Airflow: the mapped task the factory builds, what a worker parses, and what the Hymir view shows.

The semantics of items on both engines are pinned by tests/test_map_parity.py; these tests pin the
Airflow shape that carries them.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.airflow
pytest.importorskip("airflow")

from hymir import Chain, InvalidWorkflow, JobStatus, Map, Workflow  # noqa: E402
from hymir_airflow import compat, workflow_to_dag  # noqa: E402
from hymir_airflow.compat import dag_serializer  # noqa: E402
from tests.jobs import mapping as mj  # noqa: E402
from tests.parsing_context import set_parsing_context  # noqa: E402

DAG_ID = "hymir_map_shape"


def mapped_workflow(**options) -> Workflow:
    """Numbers -> square each (mapped) -> total of the squares."""
    return Workflow(Chain(mj.numbers([1, 2, 3]), Map(mj.square(), over="n", **options), mj.total()))


def parse(monkeypatch, task_id: str | None, workflow: Workflow | None = None):
    """The DAG as a parse with the parsing context naming ``task_id`` (None: no context) builds it."""
    set_parsing_context(monkeypatch, DAG_ID if task_id is not None else None, task_id)
    return workflow_to_dag(workflow or mapped_workflow(max_active=2), dag_id=DAG_ID)


def test_a_mapped_job_is_a_mapped_task_over_its_producers_output(monkeypatch):
    """One mapped task, expanded over the producer's return value, at most max_active items at once."""
    dag = parse(monkeypatch, None)
    square = dag.get_task("square")
    assert square.is_mapped
    assert square.partial_kwargs["max_active_tis_per_dagrun"] == 2
    assert square.partial_kwargs["map_index_template"] == "{{ hymir_item }}"
    assert square.partial_kwargs["hymir_job_id"] == "2"
    assert square.partial_kwargs["job_task_ids"] == {"1": "numbers"}, "only the producers it reads"
    assert square.partial_kwargs["hymir_settings"]["airflow_retries"] == 3
    assert [task.task_id for task in square.iter_mapped_dependencies()] == ["numbers"]
    assert square.upstream_task_ids == {"numbers"}
    assert dag.get_task("total").trigger_rule == "none_failed", "a mapped task with no item is skipped"
    assert dag.get_task("numbers").trigger_rule == "all_success"


def test_the_serialized_mapped_task_names_its_job_and_serializes_alike_twice(monkeypatch):
    """The scheduler's copy keeps the job id (for the view) and two builds serialize identically."""
    serializer = dag_serializer()
    first = serializer.to_dict(parse(monkeypatch, None))
    assert first == serializer.to_dict(parse(monkeypatch, None))
    square = serializer.from_dict(first).get_task("square")
    assert compat.hymir_job_id_of(square) == "2"
    assert square.doc_md.endswith('Hymir job "2" runs `tests.jobs.mapping.square`.')


@pytest.mark.parametrize(
    "task_id, built",
    [("square", {"numbers", "square"}), ("numbers", {"numbers", "square"}), ("total", {"total"})],
    ids=["mapped-task", "producer", "consumer"],
)
def test_a_worker_builds_a_mapped_task_with_its_producer(monkeypatch, task_id, built):
    """Airflow expands over the producer's task and counts the items only beside the mapped task: both exist."""
    assert set(parse(monkeypatch, task_id).task_ids) == built


def test_a_map_longer_than_airflow_allows_is_refused_when_the_dag_is_built(monkeypatch):
    """A Map's max_length above [core] max_map_length would fail at run time on Airflow only: refused at once."""
    limit = compat.config().getint("core", "max_map_length")
    with pytest.raises(InvalidWorkflow, match=rf"job 2 \(tests.jobs.mapping.square\): .*max_length={limit + 1}"):
        parse(monkeypatch, None, mapped_workflow(max_length=limit + 1))


def test_the_hymir_view_words_a_failed_mapped_job_as_airflow_does(airflow_executor):
    """A mapped job whose item raised is ``failed`` on the run page, like its item's row and Airflow's Grid."""
    from hymir_airflow.ui.queries import run_detail

    workflow = Workflow(Chain(mj.numbers([2, "x"]), Map(mj.square(), over="n"), mj.total()))
    run_id = airflow_executor.run(workflow, dag_id="hymir_map_view_failed")
    airflow_executor.wait(run_id, timeout=60)
    with compat.metadata_session() as session:
        detail = run_detail(session, compat.new_dag_bag(), "hymir_map_view_failed", run_id)
    states = {row.job_id: row.state for row in detail.jobs}
    assert states == {"1": "success", "2": "failed", "2[0]": "success", "2[1]": "failed", "3": "upstream_failed"}


def test_the_hymir_view_and_the_grid_show_each_item(airflow_executor):
    """The run page has the mapped job's row (its items' state together) and one row per item, with its output;
    Airflow's Grid labels each task instance with its item's index and value."""
    from hymir_airflow.ui.queries import job_value, run_detail

    workflow = mapped_workflow()
    run_id = airflow_executor.run(workflow, dag_id="hymir_map_view")
    with compat.metadata_session() as session:
        detail = run_detail(session, compat.new_dag_bag(), "hymir_map_view", run_id)
        rows = {row.job_id: row for row in detail.jobs}
        assert list(rows) == ["1", "2", "2[0]", "2[1]", "2[2]", "3"]
        assert [rows[job].state for job in rows] == ["success"] * 6
        assert [rows[f"2[{i}]"].output.text for i in range(3)] == ["1", "4", "9"]
        assert rows["2[1]"].instance == "square[1]" and rows["2"].instance == "square"
        assert rows["2"].function == "tests.jobs.mapping.square"
        assert detail.job_count == 6
        assert job_value(session, compat.new_dag_bag(), "hymir_map_view", run_id, "square[2]", "output") == 9

        from sqlalchemy import select

        from airflow.models.taskinstance import TaskInstance as TI

        labels = session.execute(
            select(TI.map_index, TI.rendered_map_index).where(
                TI.dag_id == "hymir_map_view", TI.run_id == run_id, TI.task_id == "square"
            )
        ).all()
        assert sorted(labels) == [(0, "0: 1"), (1, "1: 2"), (2, "2: 3")], "the Grid names each instance by its item"


def test_a_consumer_of_an_item_whose_value_is_gone_fails_naming_the_item(airflow_executor):
    """An item's XCom deleted after it succeeded fails its consumer, naming the item, instead of a shorter list."""
    workflow = Workflow(
        Chain(mj.numbers([1, 2, 3]), Map(mj.square(), over="n"), mj.delete_item_value("square", 1), mj.total())
    )
    run_id = airflow_executor.run(workflow, dag_id="hymir_map_missing_item")
    states = airflow_executor.job_states(run_id)
    assert states["3"].status is JobStatus.SUCCESS
    assert states["4"].status is JobStatus.FAILURE
    assert "input 'squares': the value of job 2 (tests.jobs.mapping.square) (task square, item 2[1]) is missing" in (
        states["4"].exception or ""
    )
