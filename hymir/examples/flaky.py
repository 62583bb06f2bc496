"""A Retry example: a call to a flaky service that answers on a chosen try (a workflow param)."""

from typing import Any

from hymir import Chain, JobState, Retry, Success, Workflow, job


@job(inputs=["succeed_on_try", "job_state"], output="payload")
def call_flaky_service(*, succeed_on_try: int, job_state: JobState) -> Retry | Success:
    """Pretend the service times out until the given try, then answer."""
    if job_state.retries + 1 < succeed_on_try:
        return Retry(wait_min=1, wait_max=3, max_retries=5)
    return Success({"answered_on_try": job_state.retries + 1})


@job(inputs=["payload"])
def store_payload(payload: dict[str, Any]) -> Success:
    """Keep what the service answered."""
    return Success(f"stored {payload}")


def flaky_workflow(succeed_on_try: int = 3) -> Workflow:
    """Call a flaky service with retries, then store its answer."""
    return Workflow(Chain(call_flaky_service(), store_payload()), params={"succeed_on_try": succeed_on_try})
