"""Fan-out at run time: list the files of a batch, measure each (a Map), sum up; behind ``dags/hymir_fanout.py``."""

from hymir import Chain, Map, Success, Workflow, job


@job(inputs=["batch", "count"], output="files")
def list_files(batch: str, count: int) -> Success:
    """Pretend to list the files of a batch: how many there are is known only now."""
    return Success([f"{batch}/part-{number:03}.csv" for number in range(count)])


@job(output="sizes")
def measure(file: str) -> Success:
    """Pretend to read one file; its size is made up from its name."""
    return Success(100 * len(file) + int(file[-7:-4]))


@job(inputs=["sizes"], output="report")
def summarize(sizes: list[int]) -> Success:
    """Add the sizes up; they come in the order of the files, and an empty batch gives none."""
    return Success({"files": len(sizes), "bytes": sum(sizes), "largest": max(sizes, default=None)})


def fanout_workflow() -> Workflow:
    """List the files, measure each of them, at most four at once, and sum the sizes up."""
    return Workflow(
        Chain(list_files(), Map(measure(), over=("files", "file"), max_active=4), summarize()),
        params={"batch": "2026-12-01", "count": 5},
    )
