"""Jobs that handle secrets the way users do, for the redaction tests: in messages, Failure values and contexts."""

from __future__ import annotations

from airflow.sdk import Variable

from hymir import CheckLater, Failure, Group, JobState, Success, Workflow, job

#: The sensitive Variable the jobs read; its name makes Airflow's masker hide its value.
SECRET_VARIABLE = "hymir_api_key"


@job()
def leak_in_exception():
    """Raise with the secret inside the message, as a failed connection string would show it."""
    secret = Variable.get(SECRET_VARIABLE)
    raise RuntimeError(f"could not connect to postgresql://admin:{secret}@db.example/orders")


@job()
def leak_in_failure():
    """Fail with the secret inside the Failure value."""
    return Failure({"tried_with": Variable.get(SECRET_VARIABLE)})


@job(inputs=["job_state"], output="password")
def keep_password_in_context(password: str, job_state: JobState):
    """Keep a password in the CheckLater context, and succeed with what the next check got back."""
    if "cached_password" not in job_state.context:
        return CheckLater(wait_for=0, context={"cached_password": password, "step": 1})
    return Success(job_state.context["cached_password"])


@job(inputs=["job_state"], output="password")
def keep_connection_password_in_context(job_state: JobState):
    """Keep a Connection's password in the CheckLater context, and succeed with what the next check got back."""
    from airflow.sdk import Connection

    if "cached_password" not in job_state.context:
        password = Connection.get("hymir_secret_api").password
        return CheckLater(wait_for=1, context={"cached_password": password, "step": 1})
    return Success(len(job_state.context["cached_password"]))


def leaking_workflow() -> Workflow:
    """Three jobs that put a secret where Hymir records it: an exception, a Failure value, a context."""
    return Workflow(Group(leak_in_exception(), leak_in_failure(), keep_connection_password_in_context()))


@job(output="tokens")
def tokens_with_secret():
    """Items of a Map, the first holding a secret (a Variable, so that Airflow's masker knows it)."""
    return Success([f"token={Variable.get(SECRET_VARIABLE)}", "plain"])


@job(output="lengths")
def token_length(token: str):
    """One item of 'tokens': its length."""
    return Success(len(token))
