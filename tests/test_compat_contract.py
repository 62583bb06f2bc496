"""Contract tests: each Airflow detail that hymir_airflow.compat (or the value encoding) relies on, pinned.

When an Airflow upgrade breaks one, the test that fails names the assumption, so the fix goes
into the one module that knows it.
"""

from __future__ import annotations

import inspect

import pytest

pytestmark = pytest.mark.airflow
pytest.importorskip("airflow")

from airflow.sdk import DAG, BaseOperator, BaseSensorOperator  # noqa: E402

from hymir_airflow import compat  # noqa: E402
from hymir_airflow.operator import HymirJobOperator  # noqa: E402


class _Plain(BaseOperator):
    def execute(self, context):
        return None


def test_reschedule_sensors_ask_the_private_next_poke_interval_hook():
    """ChosenRescheduleInterval answers BaseSensorOperator._get_next_poke_interval(started_at, run_duration, poke_count)."""
    hook = getattr(BaseSensorOperator, "_get_next_poke_interval", None)
    assert hook is not None, "BaseSensorOperator no longer has _get_next_poke_interval"
    assert list(inspect.signature(hook).parameters) == ["self", "started_at", "run_duration", "poke_count"]
    assert "_get_next_poke_interval" in inspect.getsource(BaseSensorOperator.execute), (
        "BaseSensorOperator.execute no longer asks _get_next_poke_interval for the reschedule date"
    )
    assert HymirJobOperator._get_next_poke_interval is compat.ChosenRescheduleInterval._get_next_poke_interval


def test_template_rendering_goes_through_render_template_fields():
    """Verbatim arguments: HymirJobOperator overrides BaseOperator.render_template_fields(context, jinja_env)."""
    parameters = list(inspect.signature(BaseOperator.render_template_fields).parameters)
    assert parameters == ["self", "context", "jinja_env"]


def test_the_edge_shortcut_records_what_rshift_records():
    """link_tasks leaves the same neighbour sets as ``>>``."""
    with DAG("contract_edges", schedule=None) as by_rshift:
        a, b = _Plain(task_id="a"), _Plain(task_id="b")
        a >> b
    with DAG("contract_edges_linked", schedule=None):
        c, d = _Plain(task_id="a"), _Plain(task_id="b")
        compat.link_tasks(c, d)
    assert (c.downstream_task_ids, d.upstream_task_ids) == (a.downstream_task_ids, b.upstream_task_ids) == ({"b"}, {"a"})
    assert d.upstream_list == [c]


def test_the_secrets_masker_hides_known_secrets_and_sensitive_keys():
    """redact: a registered secret inside text becomes ***, and so does any value under a sensitive key name."""
    from airflow.sdk.log import mask_secret

    mask_secret("s3cr3t-contract-value")
    assert compat.redact("url postgresql://u:s3cr3t-contract-value@h/db") == "url postgresql://u:***@h/db"
    assert compat.redact({"password": "anything", "n": [1, "s3cr3t-contract-value"]}) == {
        "password": "***", "n": [1, "***"]
    }


def test_seal_round_trips_and_encrypts_with_a_fernet_key():
    """seal/unseal: the deployment's Fernet key (the tests configure one, as the launcher does) encrypts."""
    value = {"cached_password": "pw", "n": [1, 2.5, None]}
    sealed = compat.seal(value)
    assert compat.seals_encrypted() and "pw" not in sealed
    assert compat.unseal(sealed) == value
