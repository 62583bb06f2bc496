"""Reads a job's ``meta={"airflow": {...}}`` into HymirJobOperator arguments, refusing unknown keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hymir.errors import InvalidWorkflow
from hymir.job import Job
from hymir.labels import describe
from hymir_airflow.compat import weight_rules


def _seconds(value: Any) -> timedelta:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    raise ValueError("must be a number of seconds >= 0")


def _whole(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError("must be a whole number >= 0")


def _slots(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError("must be a whole number >= 1")


def _integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError("must be a whole number")


def _weight_rule(value: Any) -> str:
    rules = weight_rules()
    if isinstance(value, str) and value in rules:
        return value
    raise ValueError(f"must be one of {', '.join(rules)}")


def _text(value: Any) -> str:
    if isinstance(value, str) and value:
        return value
    raise ValueError("must be a non-empty string")


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError("must be True or False")


def _non_negative(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError("must be a number of seconds >= 0")


def _anything(value: Any) -> Any:
    return value


#: meta key -> (operator argument, converter that raises ValueError on a bad value).
AIRFLOW_META_KEYS = {
    "queue": ("queue", _text),
    "pool": ("pool", _text),
    "pool_slots": ("pool_slots", _slots),
    "priority_weight": ("priority_weight", _integer),
    "weight_rule": ("weight_rule", _weight_rule),
    "execution_timeout": ("execution_timeout", _seconds),
    "retries": ("airflow_retries", _whole),
    "retry_delay": ("retry_delay", _seconds),
    "retry_on_exception": ("retry_on_exception", _flag),
    "render_templates": ("render_templates", _flag),
    "check_interval": ("poke_interval", _seconds),
    "check_timeout": ("timeout", _seconds),
    "min_check_interval": ("min_check_interval", _non_negative),
    "deferrable": ("deferrable", _flag),
    "owner": ("owner", _text),
    "max_active_tis_per_dag": ("max_active_tis_per_dag", _whole),
    "executor": ("executor", _text),
    "executor_config": ("executor_config", _anything),
}


def operator_overrides(job: Job) -> dict[str, Any]:
    """The operator arguments that ``job.meta["airflow"]`` sets; InvalidWorkflow names any bad key or value."""
    overrides = (job.meta or {}).get("airflow")
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise InvalidWorkflow(f"{describe(job)}: meta['airflow'] must be a dict, not {type(overrides).__name__}")
    arguments: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in AIRFLOW_META_KEYS:
            raise InvalidWorkflow(
                f"{describe(job)}: meta['airflow'] has the unknown key {key!r}; "
                f"known keys are {', '.join(sorted(AIRFLOW_META_KEYS))}"
            )
        argument, convert = AIRFLOW_META_KEYS[key]
        try:
            arguments[argument] = convert(value)
        except ValueError as error:
            raise InvalidWorkflow(f"{describe(job)}: meta['airflow'][{key!r}] = {value!r} {error}") from None
    return arguments
