"""The two Airflow executors: what each takes and refuses, and how a deployed DAG's tasks are matched to a workflow.

``AirflowExecutor`` runs in this process and ``AirflowDeploymentExecutor`` drives a deployment;
neither needs a running Airflow here (the deployment tests run the second against real ones).
The matching reads each job task's docs, as the REST API serves them, from DAGs the factory
builds and Airflow serializes.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("airflow")

from hymir import Chain, Group, Unit, Workflow
from hymir_airflow import AirflowDeploymentExecutor, AirflowExecutor, workflow_to_dag
from hymir_airflow.compat import dag_serializer
from hymir_airflow.deployment import mismatch
from hymir_airflow.task_docs import job_of
from tests.jobs import scenario as jobs

pytestmark = pytest.mark.airflow

#: No Airflow listens here: the executor refuses before it would call it (a token needs no login).
NOWHERE = "http://127.0.0.1:9"


def deployed_jobs(workflow: Workflow, dag_id: str = "deployed", **dag_options) -> dict[str, tuple[str, str]]:
    """``{task_id: (job id, function)}`` as the serialized DAG of ``workflow`` names them in its tasks' docs."""
    dag = workflow_to_dag(workflow, dag_id=dag_id, **dag_options)
    restored = dag_serializer().deserialize_dag(json.loads(json.dumps(dag_serializer().serialize_dag(dag))))
    named = {task.task_id: job_of(task.doc_md) for task in restored.tasks}
    return {task_id: job for task_id, job in named.items() if job is not None}


def words() -> Workflow:
    return Workflow(Chain(Group(jobs.shout("a"), jobs.shout("b")), jobs.count_words()))


@pytest.mark.parametrize("argument", ["api_url", "username", "password", "token", "unpause"])
def test_the_in_process_executor_refuses_the_arguments_of_a_deployment(argument):
    with pytest.raises(TypeError, match=rf"takes no {argument}: .*AirflowDeploymentExecutor\(api_url"):
        AirflowExecutor(**{argument: "x"})


def test_the_deployment_executor_refuses_dag_options():
    with pytest.raises(TypeError, match=r"no DAG options \(default_args, deferrable\).*workflow_to_dag"):
        AirflowDeploymentExecutor(NOWHERE, token="t", default_args={"retries": 1}, deferrable=True)


def test_the_deployment_executor_needs_a_token_or_a_login():
    with pytest.raises(ValueError, match="a token, or a username and password"):
        AirflowDeploymentExecutor(NOWHERE, username="admin")


def test_a_deployment_run_needs_the_dag_id():
    executor = AirflowDeploymentExecutor(NOWHERE, token="t")
    with pytest.raises(TypeError, match=r"needs dag_id=.*runs the DAG it has, under that DAG's id"):
        executor.run(words())


def test_only_the_deployment_executor_waits_for_a_dag():
    assert not hasattr(AirflowExecutor(), "wait_for_dag")
    assert callable(AirflowDeploymentExecutor(NOWHERE, token="t").wait_for_dag)


def test_every_job_task_names_its_job_and_function_in_its_docs():
    """Any identity survives the docs' line, callbacks included; Hymir's own tasks name no job."""
    workflow = Workflow.from_graph(
        {'load "all"\nnow': jobs.produce(1), "ünï`code": jobs.produce(2), "3": jobs.returns_none()},
        [('load "all"\nnow', "3"), ("ünï`code", "3")],
        fail_fast=True,
    )
    workflow.on(Workflow.Callbacks.ON_FINISHED, jobs.tally("done"))

    assert deployed_jobs(workflow) == {
        "produce": ('load "all"\nnow', "tests.jobs.scenario.produce"),
        "produce_2": ("ünï`code", "tests.jobs.scenario.produce"),
        "returns_none": ("3", "tests.jobs.scenario.returns_none"),
        "tally": ("4", "tests.jobs.scenario.tally"),
    }


def test_a_deployed_dag_of_the_same_workflow_matches_whatever_its_dag_options():
    assert mismatch("deployed", deployed_jobs(words(), task_groups=False, deferrable=True), words()) is None


def test_a_deployed_dag_with_a_unit_matches_its_workflow_and_not_the_one_without():
    """A unit's task names the unit; the same jobs without the unit are another workflow."""
    with_unit = Workflow(Chain(jobs.shout("a"), Unit(Chain(jobs.shout("b"), jobs.count_words()))))
    without = Workflow(Chain(jobs.shout("a"), jobs.shout("b"), jobs.count_words()))

    assert deployed_jobs(with_unit) == {
        "shout": ("1", "tests.jobs.scenario.shout"),
        "unit_1": ("unit_1", "hymir.Unit"),
    }
    assert mismatch("unit", deployed_jobs(with_unit), with_unit) is None
    problem = mismatch("unit", deployed_jobs(with_unit), without)
    assert problem is not None and "it has tasks for jobs the workflow does not have: unit_1 (job unit_1" in problem


def test_a_deployed_dag_of_another_workflow_is_refused_naming_the_tasks_that_differ():
    other = Workflow(Chain(jobs.shout("a"), jobs.produce(1)))

    problem = mismatch("hymir_words", deployed_jobs(other), words())

    assert problem is not None
    assert problem.startswith("DAG 'hymir_words' does not run the workflow given")
    assert "no task for shout_2 (job 2, tests.jobs.scenario.shout), count_words (job 3," in problem
    assert "tasks for jobs the workflow does not have: produce (job 2, tests.jobs.scenario.produce)" in problem
    assert problem.endswith("Pass run() the workflow that the DAG's file builds.")


def test_tasks_that_run_other_job_identities_are_refused():
    """The same functions under the same task ids, but as other jobs: reading them back would mix the jobs up."""
    deployed = Workflow.from_graph({"a": jobs.shout("x"), "b": jobs.count_words()}, [("a", "b")])
    given = Workflow.from_graph({"b": jobs.shout("x"), "a": jobs.count_words()}, [("b", "a")])

    problem = mismatch("graph", deployed_jobs(deployed), given)

    assert problem is not None
    assert "its tasks run other jobs: shout (job a, tests.jobs.scenario.shout), count_words (job b," in problem
    assert "instead of shout (job b, tests.jobs.scenario.shout), count_words (job a," in problem


def test_a_dag_without_hymir_jobs_is_refused_as_not_built_by_the_factory():
    problem = mismatch("plain", {}, words())
    assert problem is not None and "none of its tasks names a Hymir job" in problem
