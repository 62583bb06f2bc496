"""An ON_FINISHED example: a report that runs after the workflow, whether it succeeded or failed."""

from hymir import Chain, Failure, Group, Success, Workflow, WorkflowState, job


@job(output="rows")
def load_rows(table: str, rows: int) -> Success | Failure:
    """Pretend to load rows of a table; a negative count fails the job."""
    if rows < 0:
        return Failure(f"table {table} reported {rows} rows")
    return Success(rows)


@job(inputs=["workflow_state", "rows"])
def report(workflow_state: WorkflowState, rows: list[int]) -> Success:
    """Runs when everything else has finished: report the outcome and what was loaded."""
    return Success(f"workflow {workflow_state.status.value}: loaded {sum(rows)} rows from {len(rows)} tables")


def cleanup_workflow(fail: bool = False) -> Workflow:
    """Load three tables in parallel (one fails when ``fail``), then always report."""
    workflow = Workflow(
        Chain(Group(load_rows("users", 10), load_rows("orders", -1 if fail else 20), load_rows("items", 30)))
    )
    return workflow.on(Workflow.Callbacks.ON_FINISHED, report())
