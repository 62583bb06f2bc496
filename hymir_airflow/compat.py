"""The one place that knows Airflow versions and reaches past the public task SDK.

Everything here leans on an Airflow detail that its public ``airflow.sdk`` surface does not
promise; each is pinned by a contract test in ``tests/test_compat_contract.py``, so an Airflow
upgrade that breaks one fails there with the assumption named.
"""

from __future__ import annotations

import json
from typing import Any

from airflow.sdk._shared.secrets_masker import redact as _airflow_redact
from airflow.sdk.crypto import get_fernet


def redact(value: Any) -> Any:
    """``value`` with every secret Airflow's secrets masker knows replaced by ``***``.

    Nested lists and dicts are redacted item by item, and values under sensitive key names
    (``password``, ``api_key``, ...) are hidden as a whole, as in Airflow's own task logs.
    """
    return _airflow_redact(value)


def seal(value: Any) -> str:
    """``value`` (JSON-safe) encrypted with the deployment's Fernet key, as text for a JSON store.

    Without a Fernet key (``[core] fernet_key`` empty) Airflow stores secrets unencrypted, and so
    does this: the text is then the plain JSON.
    """
    return get_fernet().encrypt(json.dumps(value).encode()).decode()


def seals_encrypted() -> bool:
    """True when ``seal`` encrypts: the deployment has a Fernet key."""
    return get_fernet().is_encrypted


def unseal(text: str) -> Any:
    """The value that ``seal`` encrypted."""
    return json.loads(get_fernet().decrypt(text.encode()))


class ChosenRescheduleInterval:
    """Sensor mixin: the next reschedule happens after ``self.next_check`` seconds.

    Airflow's reschedule-mode sensors ask the private hook ``_get_next_poke_interval`` when to
    poke again; a job's CheckLater names its own wait, so the hook answers with it (bounded by the
    sensor's remaining ``timeout``).
    """

    next_check: float

    def _get_next_poke_interval(self, started_at: Any, run_duration: Any, poke_count: int) -> float:
        return max(0.0, min(self.next_check, self.timeout - run_duration()))


def link_tasks(upstream: Any, downstream: Any) -> None:
    """``upstream >> downstream`` for two tasks known to be in the same DAG, in constant time.

    Airflow's ``>>`` first checks that both tasks belong to one DAG by putting their DAGs in a
    set, and a DAG's hash covers every task id: linking n tasks that way costs O(n²) (a Chain of
    Groups of 10,000 jobs spent 54 s in it). The factory knows both tasks are in its DAG, so the
    edge is recorded as ``>>`` records it in the end: in the two tasks' sets of neighbour ids.
    """
    upstream.downstream_task_ids.add(downstream.node_id)
    downstream.upstream_task_ids.add(upstream.node_id)
