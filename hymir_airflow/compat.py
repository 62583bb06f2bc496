"""The one place that knows Airflow versions and reaches past the public task SDK.

Hymir supports every Airflow 3 minor from 3.0 to 3.3. Everything here either differs between
those minors or leans on an Airflow detail that the public ``airflow.sdk`` surface does not
promise; each is pinned by a contract test in ``tests/test_compat_contract.py``, so an Airflow
upgrade that breaks one fails there with the assumption named. The rest of ``hymir_airflow``
asks this module, never ``airflow.__version__``.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import operator
import os
import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import airflow
from airflow.sdk import BaseSensorOperator

from hymir_airflow.state import instance_key, plain_state, split_instance_key

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airflow.plugins_manager import AirflowPlugin as AirflowPlugin  # what hymir_airflow.plugin subclasses

#: The Airflow releases the test suite runs on (the newest patch of every supported minor).
TESTED_VERSIONS = ("3.0.6", "3.1.8", "3.2.2", "3.3.2")


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


#: (major, minor) of the installed Airflow.
AIRFLOW_MINOR = _minor(airflow.__version__)

#: Airflow 3.3 brought the per-task state store (AIP-103) and retry policies (AIP-105). Before,
#: a job's record lives in XComs of a holder task and the operator waits a Retry's delay itself.
HAS_TASK_STATE_STORE = AIRFLOW_MINOR >= (3, 3)
HAS_RETRY_POLICY = AIRFLOW_MINOR >= (3, 3)

#: Airflow 3.1 brought ``external_views`` for plugins (the Hymir page in the nav and run tabs). The UI
#: puts a run's ids into the ``{DAG_ID}`` and ``{RUN_ID}`` of a run tab's href URL-encoded since 3.2 and
#: as they are on 3.1, which comes to the same for every run id that ``[scheduler] allowed_run_id_pattern``
#: lets through by default (letters, digits and ``_.~:+-``).
HAS_EXTERNAL_VIEWS = AIRFLOW_MINOR >= (3, 1)


# The type checker runs on the newest supported Airflow: the imports for older minors carry a
# ``type: ignore``, since that Airflow lacks them or types them differently.
if AIRFLOW_MINOR >= (3, 2):
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
        AirflowTaskTimeout,
    )
else:
    from airflow.exceptions import (  # type: ignore[attr-defined,no-redef]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
        AirflowTaskTimeout,
    )

if AIRFLOW_MINOR >= (3, 1):
    from airflow.sdk._shared.secrets_masker import redact as _airflow_redact
else:
    from airflow.sdk.execution_time.secrets_masker import redact as _airflow_redact  # type: ignore[no-redef]

__all__ = [
    "AIRFLOW_MINOR",
    "HAS_EXTERNAL_VIEWS",
    "HAS_RETRY_POLICY",
    "HAS_TASK_STATE_STORE",
    "TESTED_VERSIONS",
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "AirflowTaskTimeout",
]

_log = logging.getLogger(__name__)


def warn_if_untested() -> bool:
    """Log one warning when the installed Airflow is newer than every tested version; True if it did."""
    newest = max(_minor(version) for version in TESTED_VERSIONS)
    if AIRFLOW_MINOR <= newest:
        return False
    _log.warning(
        "Hymir was tested with Airflow %s; this is Airflow %s, which it has not been tested with",
        ", ".join(TESTED_VERSIONS),
        airflow.__version__,
    )
    return True


def config() -> Any:
    """Airflow's configuration (``airflow.sdk.conf`` since 3.2)."""
    if AIRFLOW_MINOR >= (3, 2):
        from airflow.sdk import conf
    else:
        from airflow.configuration import conf  # type: ignore[assignment]
    return conf


def weight_rules() -> list[str]:
    """The names of Airflow's priority weight rules."""
    if AIRFLOW_MINOR >= (3, 1):
        from airflow.sdk import WeightRule
    else:
        from airflow.utils.weight_rule import WeightRule  # type: ignore[import-not-found,no-redef]
    return [rule.value for rule in WeightRule]


def redact(value: Any) -> Any:
    """``value`` with every secret Airflow's secrets masker knows replaced by ``***``.

    Nested lists and dicts are redacted item by item, and values under sensitive key names
    (``password``, ``api_key``, ...) are hidden as a whole, as in Airflow's own task logs.
    """
    return _airflow_redact(value)


def _fernet() -> Any:
    if AIRFLOW_MINOR >= (3, 2):
        from airflow.sdk.crypto import get_fernet
    else:
        from airflow.models.crypto import get_fernet
    return get_fernet()


def seal(value: Any) -> str:
    """``value`` (JSON-safe) encrypted with the deployment's Fernet key, as text for a JSON store.

    Without a Fernet key (``[core] fernet_key`` empty) Airflow stores secrets unencrypted, and so
    does this: the text is then the plain JSON.
    """
    return _fernet().encrypt(json.dumps(value).encode()).decode()


def seals_encrypted() -> bool:
    """True when ``seal`` encrypts: the deployment has a Fernet key."""
    return _fernet().is_encrypted


def unseal(text: str) -> Any:
    """The value that ``seal`` encrypted."""
    return json.loads(_fernet().decrypt(text.encode()))


class ChosenRescheduleInterval(BaseSensorOperator):
    """A sensor whose next reschedule happens after ``self.next_check`` seconds.

    Airflow's reschedule-mode sensors ask the private hook ``_get_next_poke_interval`` when to
    poke again; a job's CheckLater names its own wait, so the hook answers with it (bounded by the
    sensor's remaining ``timeout``). Under ``dag.test()`` of Airflow 3.0 the first reschedule date
    arrives as text, and the sensor's own timeout check fails on it from the second reschedule of
    a try on (apache/airflow#58777); ``execute`` hands the sensor a datetime.

    It is a sensor itself rather than a mixin beside one, and has no constructor: Airflow wraps
    the ``__init__`` of every operator class that differs from its first base's in its handling
    of default arguments (merging the DAG's and copying its params, for every task), so a
    subclass without a constructor of its own pays that twice per task (sensor and BaseOperator),
    where a mixin first among the bases would make it three times.
    """

    next_check: float
    #: The sensor's timeout (seconds), from BaseSensorOperator.
    timeout: float
    #: False for a wait that is no check (a Retry's delay before 3.3): ``timeout`` does not bound it.
    next_check_bounded: bool = True

    def execute(self, context: Any) -> Any:
        if AIRFLOW_MINOR >= (3, 1):
            return super().execute(context)
        ti = context["ti"]
        first_reschedule_date = ti.get_first_reschedule_date
        # The task instance is a pydantic model that refuses new attributes; this one lasts for the try.
        object.__setattr__(ti, "get_first_reschedule_date", lambda *args: _as_datetime(first_reschedule_date(*args)))
        try:
            return super().execute(context)
        finally:
            object.__delattr__(ti, "get_first_reschedule_date")

    def _get_next_poke_interval(self, started_at: Any, run_duration: Callable[[], float], poke_count: int) -> float:
        if not self.next_check_bounded:
            return self.next_check
        return max(0.0, min(self.next_check, self.timeout - run_duration()))


def continues_try(context: Any) -> bool:
    """Whether this start of a task continues its try: it was rescheduled, or it resumes from a deferral.

    The number of reschedules is in the context; that the task resumes is known only to the
    task instance's private run context from the API server (its ``next_method``).
    """
    if context.get("task_reschedule_count"):
        return True
    from_server = getattr(context.get("ti"), "_ti_context_from_server", None)
    return from_server is not None and from_server.next_method is not None


def time_trigger(seconds: float) -> Any:
    """Airflow's own trigger that fires once ``seconds`` have passed, for a task that defers its wait.

    It is the standard provider's ``TimeDeltaTrigger`` (which the triggerer stores as a
    ``DateTimeTrigger`` at now + ``seconds``), as ``TimeDeltaSensor(deferrable=True)`` uses; the task
    resumes with its deferral's ``kwargs`` and the trigger's event.
    """
    from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

    return TimeDeltaTrigger(timedelta(seconds=seconds))


def _as_datetime(value: Any) -> Any:
    """``value``, parsed when it is an ISO 8601 text (see ``ChosenRescheduleInterval``)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def link_tasks(upstream: Any, downstream: Any) -> None:
    """``upstream >> downstream`` for two tasks known to be in the same DAG, in constant time.

    Airflow's ``>>`` first checks that both tasks belong to one DAG by putting their DAGs in a
    set, and a DAG's hash covers every task id: linking n tasks that way costs O(n²) (a Chain of
    Groups of 10,000 jobs spent 54 s in it). The factory knows both tasks are in its DAG, so the
    edge is recorded as ``>>`` records it in the end: in the two tasks' sets of neighbour ids.
    """
    upstream.downstream_task_ids.add(downstream.node_id)
    downstream.upstream_task_ids.add(upstream.node_id)


# --- Retries after a delay chosen per retry -------------------------------------------------------


class RetryAfter(AirflowException):
    """Raised by a task to be retried after ``delay`` seconds, a delay chosen for this retry."""

    def __init__(self, message: str, delay: float):
        super().__init__(message)
        self.delay = delay


if HAS_RETRY_POLICY:
    from airflow.sdk import RetryDecision, RetryPolicy

    class RetryAfterPolicy(RetryPolicy):
        """Retries after the delay a ``RetryAfter`` names; every other failure gets Airflow's usual handling.

        Failures decided not to be retried are raised as ``AirflowFailException``, which Airflow never
        hands to a policy.
        """

        def evaluate(self, exception: BaseException, try_number: int, max_tries: int, context: Any = None) -> Any:
            if isinstance(exception, RetryAfter):
                return RetryDecision.retry(delay=timedelta(seconds=exception.delay), reason=str(exception))
            return RetryDecision.default()

    #: One policy for every task: it keeps no state, so each task need not make its own.
    _RETRY_AFTER = RetryAfterPolicy()


def retry_policy_arguments() -> dict[str, Any]:
    """Operator arguments that make Airflow wait a ``RetryAfter``'s delay before the retry.

    On 3.3 a retry policy does it. Before 3.3 Airflow only knows the task's static
    ``retry_delay``: there are no arguments, and the operator waits the rest of the delay itself
    at the start of the next try (a reschedule), so ``retry_delay`` should be 0 (see
    ``DEFAULT_RETRY_DELAY``).
    """
    return {"retry_policy": _RETRY_AFTER} if HAS_RETRY_POLICY else {}


def set_own_attributes(task: Any, **values: Any) -> None:
    """Set attributes of an operator's own, which Airflow does not define, without ``BaseOperator.__setattr__``.

    Airflow's ``__setattr__`` looks for a converter and the constructor's recorded arguments at
    each assignment, and searches the value of a template field for ``XComArg`` references (to
    make them upstream tasks): microseconds every time, in every task of every parse. None of
    it concerns an attribute that Airflow does not define and whose value holds no ``XComArg``
    (as JSON-safe values never do).
    """
    vars(task).update(values)


#: How long Airflow waits before retrying a Hymir task by default. With retry policies, 10 s (for
#: failures the job did not ask a retry for: a lost worker, the reschedule race); before 3.3 the
#: static delay precedes the job's own retries too, so it is 0 and the operator waits the delay
#: the job drew.
DEFAULT_RETRY_DELAY = timedelta(seconds=10) if HAS_RETRY_POLICY else timedelta(0)


# --- Where a job's record lives between tries -----------------------------------------------------

#: Before 3.3, the task whose XComs hold the jobs' records (a suffix is added if a job has it).
RECORDS_TASK_ID = "hymir_records"


def record_key(task_id: str, key: str) -> str:
    """The XCom key of a task's record in the holder task (before 3.3)."""
    return f"{key}.{task_id}"


def records_holder(task_id: str) -> Any:
    """Before 3.3: the task whose XComs keep every job's record for the DAG run.

    A task's own XComs are cleared whenever it starts again (every reschedule and retry); an
    ``EmptyOperator`` never starts (the scheduler marks it done), so its XComs last as long as
    the DAG run and go with it.
    """
    from airflow.providers.standard.operators.empty import EmptyOperator

    return EmptyOperator(
        task_id=task_id,
        doc_md="Keeps each Hymir job's record (retries, checks, context) for the run, as XComs: "
        "Airflow before 3.3 has no task state store.",
    )


class RecordStore:
    """A task's record in its DAG run: the task state store on 3.3+, the holder's XComs before."""

    def __init__(self, context: Any, key: str, holder_task_id: str | None):
        self._context = context
        self._key = key
        # None only on 3.3+: before, the operator always names the holder.
        self._holder = holder_task_id

    def get(self) -> Any:
        if HAS_TASK_STATE_STORE:
            return self._context["task_state_store"].get(self._key)
        from airflow.sdk.bases.xcom import BaseXCom

        ti = self._context["ti"]
        return BaseXCom.get_one(
            key=record_key(instance_key(ti.task_id, ti.map_index), self._key),
            dag_id=ti.dag_id,
            task_id=self._holder,  # type: ignore[arg-type]
            run_id=ti.run_id,
        )

    def set(self, stored: Any) -> None:
        if HAS_TASK_STATE_STORE:
            self._context["task_state_store"].set(self._key, stored)
            return
        from airflow.sdk.bases.xcom import BaseXCom

        ti = self._context["ti"]
        BaseXCom.set(
            key=record_key(instance_key(ti.task_id, ti.map_index), self._key),
            value=stored,
            dag_id=ti.dag_id,
            task_id=self._holder,  # type: ignore[arg-type]
            run_id=ti.run_id,
        )


def read_records(
    session: Session, dag_id: str, run_id: str, instances: Iterable[str], key: str, holder_task_id: str | None = None
) -> dict[str, Any]:
    """The stored records of task ``instances`` (``instance_key``) in one DAG run, from the metadata database.

    Before 3.3 they are XComs of ``holder_task_id`` (``RECORDS_TASK_ID`` unless a job took that id).
    """
    from sqlalchemy import select

    wanted = set(instances)
    task_ids = {split_instance_key(instance)[0] for instance in wanted}
    if HAS_TASK_STATE_STORE:
        from airflow.models.task_state_store import TaskStateStoreModel as Store

        query = select(Store.task_id, Store.map_index, Store.value).where(
            Store.dag_id == dag_id, Store.run_id == run_id, Store.key == key, Store.task_id.in_(task_ids)
        )
        found = ((instance_key(task_id, map_index), value) for task_id, map_index, value in session.execute(query))
        return {instance: _json(value) for instance, value in found if instance in wanted}
    from airflow.models.xcom import XComModel

    keys = {record_key(instance, key): instance for instance in wanted}
    holder_query = select(XComModel.key, XComModel.value).where(
        XComModel.dag_id == dag_id,
        XComModel.run_id == run_id,
        XComModel.map_index == -1,
        XComModel.task_id == (holder_task_id or RECORDS_TASK_ID),
        XComModel.key.in_(list(keys)),
    )
    return {keys[found]: _json(value) for found, value in session.execute(holder_query)}


def has_dag_run_wait(deployment_version: str) -> bool:
    """Whether a deployment of that Airflow version has the REST endpoint that waits for a run (3.1+)."""
    return _minor(deployment_version) >= (3, 1)


def record_path(
    deployment_version: str, dag_id: str, run_id: str, instance: str, key: str, holder_task_id: str
) -> tuple[str, dict[str, int]]:
    """The REST API path (under ``/api/v2``) and query of a task instance's record on a deployment of that version.

    ``instance`` is an ``instance_key``; the response's JSON has the record as ``value``.
    """
    task_id, map_index = split_instance_key(instance)
    if _minor(deployment_version) >= (3, 3):
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/state-store/{key}"
        return path, ({"map_index": map_index} if map_index >= 0 else {})
    return f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{holder_task_id}/xcomEntries/{record_key(instance, key)}", {}


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# --- The metadata database, for dag.test() and readers ---------------------------------------------


def dag_bag(dag_folder: str, **kwargs: Any) -> Any:
    """Airflow's ``DagBag`` of the DAG files in ``dag_folder`` (it moved to ``airflow.dag_processing`` in 3.2)."""
    if AIRFLOW_MINOR >= (3, 2):
        from airflow.dag_processing.dagbag import DagBag
    else:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag(dag_folder=dag_folder, **kwargs)


@functools.lru_cache(maxsize=1)
def _empty_folder() -> str:
    """One empty folder for the DAG bags that ``register_dag`` fills by hand, removed at exit."""
    folder = tempfile.TemporaryDirectory(prefix="hymir-empty-")
    atexit.register(folder.cleanup)
    return folder.name


def register_dag(dag: Any) -> None:
    """Serialize ``dag`` into the metadata database, as the dag-processor would, so ``dag.test()`` can run it."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    bag = dag_bag(_empty_folder(), collect_dags=False)
    if getattr(dag, "relative_fileloc", None) is None:  # 3.0 stores it and has no default
        dag.relative_fileloc = "hymir_dag.py"
    bag.bag_dag(dag)
    if AIRFLOW_MINOR >= (3, 2):
        from airflow.dag_processing.dagbag import sync_bag_to_db

        sync_bag_to_db(bag, "dags-folder", None)
    elif AIRFLOW_MINOR >= (3, 1):
        from airflow.models.dagbag import sync_bag_to_db  # type: ignore[no-redef]

        sync_bag_to_db(bag, "dags-folder", None)
    else:
        bag.sync_to_db("dags-folder", None)


def dag_serializer() -> Any:
    """The class that turns DAGs into what Airflow stores and back (``serialize_dag``, ``to_dict``, ...)."""
    from airflow.serialization import serialized_objects

    # Airflow 3.3 keeps SerializedDAG there without exporting it.
    return getattr(serialized_objects, "DagSerialization", None) or serialized_objects.SerializedDAG  # type: ignore[attr-defined]


def ensure_database() -> None:
    """Create Airflow's tables in the configured metadata database if they are not there yet."""
    from sqlalchemy import inspect

    from airflow import settings
    from airflow.utils.db import initdb

    if not inspect(settings.engine).has_table("dag_run"):
        initdb()


def metadata_session() -> Any:
    """A session of the metadata database, committed when the ``with`` block ends without error."""
    from airflow.utils.session import create_session

    return create_session()


def dag_run_state(session: Session, dag_id: str, run_id: str) -> Any:
    """The state of one DAG run (None when there is no such run)."""
    from sqlalchemy import select

    from airflow.models.dagrun import DagRun

    return session.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))


def task_instance_rows(session: Session, dag_id: str, run_id: str) -> list[tuple[str, int, Any, int]]:
    """``(task_id, map_index, state, try_number)`` of every task instance of one DAG run."""
    from sqlalchemy import select

    from airflow.models.taskinstance import TaskInstance as TI

    query = select(TI.task_id, TI.map_index, TI.state, TI.try_number).where(TI.dag_id == dag_id, TI.run_id == run_id)
    return [(task_id, index, state, tries or 0) for task_id, index, state, tries in session.execute(query)]


def return_values(session: Session, dag_id: str, run_id: str, instances: list[str]) -> dict[str, Any]:
    """The ``return_value`` XComs of task ``instances`` (``instance_key``) in one run, as their tasks pushed them."""
    from sqlalchemy import select

    from airflow.models.xcom import XComModel

    wanted = set(instances)
    query = select(XComModel).where(
        XComModel.dag_id == dag_id,
        XComModel.run_id == run_id,
        XComModel.key == "return_value",
        XComModel.task_id.in_({split_instance_key(instance)[0] for instance in wanted}),
    )
    read = stored_value_reader()
    rows = ((instance_key(row.task_id, row.map_index), row) for row in session.scalars(query))
    return {instance: read(row) for instance, row in rows if instance in wanted}


def item_values(ti: Any, task_id: str) -> list[Any]:
    """The return values of the items of mapped task ``task_id`` in this task's run, in map-index order.

    One request for all of them; an item that did not succeed has none, so it is left out.
    """
    from airflow.sdk.bases.xcom import BaseXCom

    values = BaseXCom.get_all(key="return_value", dag_id=ti.dag_id, task_id=task_id, run_id=ti.run_id)
    return list(values or [])


def item_states(ti: Any, task_id: str) -> dict[int, str | None]:
    """The state of every task instance of mapped task ``task_id`` in this task's run, by map index.

    Airflow names a mapped task instance ``<task_id>_<map_index>`` in its answer, and the one of
    a mapped task it has not expanded (-1 here) ``<task_id>``; only this task is asked for, so no
    other task's id can be taken for an item's.
    """
    found = ti.get_task_states(dag_id=ti.dag_id, task_ids=[task_id], run_ids=[ti.run_id]).get(ti.run_id, {})
    prefix = f"{task_id}_"
    states = {
        int(name[len(prefix) :]): plain_state(state)
        for name, state in found.items()
        if name.startswith(prefix) and name[len(prefix) :].isdigit()
    }
    if task_id in found:
        states[-1] = plain_state(found[task_id])
    return states


def stored_value_reader() -> Callable[[Any], Any]:
    """What reads the value an XCom row (anything with ``.value`` as stored) holds, through this process's backend.

    A custom backend (object storage, say) stores references, which it alone can read; the REST
    API returns them as stored, so a remote reader resolves them here too, where it is configured
    like the deployment. Plain XComs arrive through the execution API and are stored as JSON
    values; they are read as stored, since decoding again would turn the string "42" into 42.
    The backend is looked up once per reader, so a batch of values pays for it once.
    """
    from airflow.sdk.bases.xcom import BaseXCom
    from airflow.sdk.execution_time.xcom import resolve_xcom_backend

    backend = resolve_xcom_backend()
    if backend is BaseXCom:
        return operator.attrgetter("value")
    read: Callable[[Any], Any] = backend.deserialize_value
    return read


def delete_dag_run(session: Session, dag_id: str, run_id: str) -> None:
    """Delete one DAG run; its task instances, XComs and records go with it."""
    from sqlalchemy import delete

    from airflow.models.dagrun import DagRun

    session.execute(delete(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))


# --- The Hymir view and the plugin ------------------------------------------------------------------
# What hymir_airflow.plugin and hymir_airflow.ui need of the api-server, its auth manager and the
# metadata database; each is pinned by tests/test_compat_view_contract.py.


def airflow_plugin_class() -> type[AirflowPlugin]:
    """Airflow's base class of plugins, which the Hymir plugin subclasses."""
    from airflow.plugins_manager import AirflowPlugin

    return AirflowPlugin


def ui_page(
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    try_number: int | None = None,
    map_index: int = -1,
) -> str:
    """A page of the Airflow UI, as a path below the UI's base (its ``<base href>``), for the view's links.

    The DAG's page (with its grid), a run's, or a task instance's (of item ``map_index`` of a mapped task), which
    shows the log of try ``try_number``; with no DAG, the UI's home page, which lists the DAG files that failed to
    import. The UI's router has these routes on every minor from 3.0 to 3.3.
    """
    parts = [
        part
        for key, value in (("dags", dag_id), ("runs", run_id), ("tasks", task_id))
        if value is not None
        for part in (key, value)
    ]
    if map_index >= 0:
        parts += ["mapped", str(map_index)]
    path = "/".join(quote(part, safe="") for part in parts)
    return f"{path}?{urlencode({'try_number': try_number})}" if try_number else path


def new_dag_bag() -> Any:
    """A cache of serialized DAGs made as the api-server makes its own, for the view's ``app.state.dag_bag``."""
    from airflow.api_fastapi.common.dagbag import create_dag_bag

    return create_dag_bag()


def dag_bag_dependency() -> Any:
    """The FastAPI parameter annotation that hands a route its app's ``state.dag_bag``."""
    from airflow.api_fastapi.common.dagbag import DagBagDep

    return DagBagDep


def session_dependency() -> Any:
    """The FastAPI parameter annotation that hands a route a metadata-database session."""
    from airflow.api_fastapi.common.db.common import SessionDep

    return SessionDep


def user_dependency() -> Any:
    """The FastAPI parameter annotation that hands a route the logged-in user, or answers HTTP 401."""
    from airflow.api_fastapi.core_api.security import GetUserDep

    return GetUserDep


def dag_read_dependency(entity: str) -> Any:
    """A FastAPI dependency: HTTP 403 unless the user may read ``entity`` (``"RUN"``, ...) of the path's DAG."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag

    return requires_access_dag("GET", DagAccessEntity[entity])


#: Where Airflow 3.0's UI keeps the login: its first page moves the ``_token`` cookie into this key of the
#: browser's localStorage and expires the cookie, so a page of the view opened after one of the UI's finds
#: no login cookie. None from 3.1 on, whose UI leaves the cookie in place.
UI_LOGIN_STORAGE_KEY = "token" if AIRFLOW_MINOR < (3, 1) else None


def accept_login_cookie(app: Any) -> None:
    """Let the FastAPI ``app`` take Airflow's login cookie as a bearer token where ``GetUserDep`` reads only the header.

    On 3.1+ ``GetUserDep`` reads the ``_token`` cookie that Airflow's login page sets itself; 3.0's reads only the
    ``Authorization`` header (its UI copies the cookie into it), so a page opened by the browser needs this.
    """
    if AIRFLOW_MINOR < (3, 1):
        app.add_middleware(_LoginCookieAsBearer)


class _LoginCookieAsBearer:
    """ASGI middleware: an HTTP request with Airflow's login cookie and no ``Authorization`` header gets one from it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = _with_cookie_as_bearer(scope)
        await self.app(scope, receive, send)


def _with_cookie_as_bearer(scope: dict[str, Any]) -> dict[str, Any]:
    from starlette.requests import HTTPConnection

    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    connection = HTTPConnection(scope)
    token = connection.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not token or "authorization" in connection.headers:
        return scope
    return {**scope, "headers": [*scope["headers"], (b"authorization", f"Bearer {token}".encode("latin-1"))]}


def _auth_manager() -> Any:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


def readable_dag_ids(user: Any) -> set[str]:
    """The ids of the DAGs ``user`` may read, as the configured auth manager answers."""
    return _auth_manager().get_authorized_dag_ids(user=user, method="GET")


def run_readable_dag_ids(user: Any, dag_ids: Iterable[str]) -> set[str]:
    """Those of ``dag_ids`` whose runs ``user`` may read (DAG-run read, asked of the auth manager DAG by DAG)."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

    manager = _auth_manager()
    return {
        dag_id
        for dag_id, details in _dag_details(list(dag_ids)).items()
        if manager.is_authorized_dag(method="GET", access_entity=DagAccessEntity.RUN, details=details, user=user)
    }


def may_read_import_errors(user: Any) -> bool:
    """Whether ``user`` may see the DAG files that failed to import (Airflow's import-errors view)."""
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView

    return _auth_manager().is_authorized_view(access_view=AccessView.IMPORT_ERRORS, user=user)


def may_read_every_dag(user: Any) -> bool:
    """Whether ``user`` may read every DAG, also those not loaded yet (what Airflow asks before it shows any error)."""
    return _auth_manager().is_authorized_dag(method="GET", user=user)


def _dag_details(dag_ids: list[str]) -> dict[str, Any]:
    """What the auth manager is told of each DAG: its id, and since 3.1 (which brought teams) its team."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    if AIRFLOW_MINOR < (3, 1):
        return {dag_id: DagDetails(id=dag_id) for dag_id in dag_ids}
    from airflow.models.dag import DagModel

    if AIRFLOW_MINOR >= (3, 2):
        teams = DagModel.get_dag_id_to_team_name_mapping(dag_ids)
    else:
        teams = {dag_id: DagModel.get_team_name(dag_id) for dag_id in dag_ids}
    return {dag_id: DagDetails(id=dag_id, team_name=teams.get(dag_id)) for dag_id in dag_ids}


def login_url(next_url: str) -> str:
    """The auth manager's login page, which sends the browser on to ``next_url`` once it is logged in.

    Before 3.3 the simple auth manager drops ``next_url``, though its login page follows a ``next`` parameter:
    one is added when the manager's address has none.
    """
    from urllib.parse import parse_qs, urlencode, urlsplit

    url = _auth_manager().get_url_login(next_url=next_url)
    if "next" in parse_qs(urlsplit(url).query):
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode({'next': next_url})}"


def tagged_dags(session: Session, tag: str, dag_ids: Iterable[str]) -> list[tuple[str, bool]]:
    """``(dag_id, is_paused)`` of the DAGs among ``dag_ids`` tagged ``tag`` that the dag-processor still finds."""
    from sqlalchemy import select

    from airflow.models.dag import DagModel, DagTag

    tagged = select(DagTag.dag_id).where(DagTag.name == tag)
    query = (
        select(DagModel.dag_id, DagModel.is_paused)
        .where(DagModel.dag_id.in_(tagged), DagModel.dag_id.in_(list(dag_ids)), DagModel.is_stale.is_(False))
        .order_by(DagModel.dag_id)
    )
    return [(dag_id, bool(is_paused)) for dag_id, is_paused in session.execute(query)]


def latest_runs(session: Session, dag_id: str, limit: int) -> list[tuple[str, Any, Any]]:
    """``(run_id, state, run_after)`` of the DAG's ``limit`` latest runs, newest first."""
    from sqlalchemy import select

    from airflow.models.dagrun import DagRun

    query = (
        select(DagRun.run_id, DagRun.state, DagRun.run_after)
        .where(DagRun.dag_id == dag_id)
        .order_by(DagRun.run_after.desc(), DagRun.id.desc())
        .limit(limit)
    )
    return [tuple(row) for row in session.execute(query)]


def find_dag_run(session: Session, dag_id: str, run_id: str) -> Any | None:
    """The ``DagRun`` of one run (``state``, ``start_date``, ``end_date``, ...), or None when there is none."""
    from sqlalchemy import select

    from airflow.models.dagrun import DagRun

    return session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))


def dag_of_run(session: Session, dag_bag: Any, dag_run: Any) -> Any:
    """The serialized DAG of the version the run was made with (else the latest); HTTP 404 when none is stored.

    3.0 has no ``get_dag_for_run_or_latest_version``: the run's version is read as 3.0's grid view reads it.
    """
    if AIRFLOW_MINOR >= (3, 1):
        from airflow.api_fastapi.common.dagbag import get_dag_for_run_or_latest_version

        return get_dag_for_run_or_latest_version(dag_bag, dag_run, dag_run.dag_id, session)
    from fastapi import HTTPException, status

    version = dag_run.created_dag_version
    if version is not None and version.serialized_dag is not None:
        return version.serialized_dag.dag
    dag = dag_bag.get_dag(dag_run.dag_id, session=session)
    if dag is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"The Dag with ID: `{dag_run.dag_id}` was not found")
    return dag


def hymir_job_id_of(task: Any) -> str | None:
    """The Hymir job a serialized task runs: its ``hymir_job_id`` (a mapped task keeps it in its partial arguments)."""
    job_id = getattr(task, "hymir_job_id", None)
    if job_id is None and getattr(task, "is_mapped", False):
        job_id = getattr(task, "partial_kwargs", {}).get("hymir_job_id")
    return job_id if isinstance(job_id, str) else None


def job_arguments(task: Any) -> tuple[Any, Any]:
    """The positional and keyword arguments of a serialized task's job, as Airflow kept them.

    They are the operator's template fields ``job_args`` and ``job_kwargs``: lists and dicts as given (3.1+ sorts
    the keys), or Airflow's text "Truncated. ..." in place of one longer than ``[core] max_templated_field_length``.
    """
    return getattr(task, "job_args", []), getattr(task, "job_kwargs", {})


def run_params(dag: Any, dag_run: Any) -> dict[str, Any]:
    """The params a run's tasks get: the serialized DAG's defaults, overridden by the run's conf."""
    return {**dag.params.dump(), **(dag_run.conf or {})}


def import_errors(session: Session) -> list[tuple[str, str | None, str, datetime | None]]:
    """``(file, bundle, stacktrace, timestamp)`` of each DAG file the dag-processor failed to import, by file.

    ``file`` is relative to its bundle's folder since 3.1, and the file's absolute path on 3.0.
    """
    from sqlalchemy import select

    from airflow.models.errors import ParseImportError as Error

    query = select(Error.filename, Error.bundle_name, Error.stacktrace, Error.timestamp).order_by(Error.filename)
    # Airflow records every import error with the file it came from (the column is nullable in the model only).
    return [(file or "", bundle, stacktrace or "", when) for file, bundle, stacktrace, when in session.execute(query)]


def dag_file_column() -> Any:
    """The column of Airflow's DAG table that names a DAG's file as import errors name it (see ``import_errors``)."""
    from airflow.models.dag import DagModel

    return DagModel.relative_fileloc if AIRFLOW_MINOR >= (3, 1) else DagModel.fileloc


def dags_of_files(session: Session, files: Iterable[str], tag: str) -> dict[tuple[str | None, str], dict[str, bool]]:
    """The DAGs the dag-processor last loaded from each of ``files`` (named as in ``import_errors``), by bundle, file.

    Each DAG id maps to whether the DAG is tagged ``tag``.
    """
    from sqlalchemy import select

    from airflow.models.dag import DagModel, DagTag

    file_column = dag_file_column()
    tagged = select(DagTag.dag_id).where(DagTag.name == tag)
    query = select(DagModel.bundle_name, file_column, DagModel.dag_id, DagModel.dag_id.in_(tagged)).where(
        file_column.in_(list(files))
    )
    found: dict[tuple[str | None, str], dict[str, bool]] = {}
    for bundle, file, dag_id, is_tagged in session.execute(query):
        found.setdefault((bundle, file), {})[dag_id] = bool(is_tagged)
    return found


def dag_file_start(bundle: str | None, file: str, limit: int) -> str | None:
    """The first ``limit`` characters of a DAG file (named as in ``import_errors``), or None when this process cannot.

    The file is looked for where this machine keeps its bundle; a bundle it cannot open (a Git bundle whose
    connection only the dag-processor has, say) or a file it does not have counts as unreadable.
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    if bundle is None:
        return None
    try:
        folder = DagBundlesManager().get_bundle(bundle).path
        with open(os.path.join(folder, file), encoding="utf-8", errors="replace") as text:
            return text.read(limit)
    except Exception:  # any bundle or file this process cannot open is just not read
        return None


def task_instance_totals(session: Session, dag_id: str, run_id: str) -> list[tuple[Any, int, int]]:
    """``(state, count, sum of try numbers)`` of the run's task instances per state, ordered by state."""
    from sqlalchemy import func, select

    from airflow.models.taskinstance import TaskInstance

    query = (
        select(TaskInstance.state, func.count(), func.sum(TaskInstance.try_number))
        .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        .group_by(TaskInstance.state)
        .order_by(TaskInstance.state)
    )
    return [(state, count, tries) for state, count, tries in session.execute(query)]


def return_value_totals(session: Session, dag_id: str, run_id: str) -> tuple[int, Any]:
    """``(count, latest timestamp)`` of the run's XCom return values: both change when an output is stored."""
    from sqlalchemy import func, select

    from airflow.models.xcom import XComModel

    query = select(func.count(), func.max(XComModel.timestamp)).where(
        XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == "return_value"
    )
    count, latest = session.execute(query).one()
    return count, latest


def records_version(session: Session, dag_id: str, run_id: str, key: str) -> tuple[int, Any]:
    """``(count, latest update)`` of the records ``key`` of a run: both change when a record is stored.

    They are rows of the task state store on 3.3+, and before the holder's XComs, whose keys all start with
    ``record_key("", key)``.
    """
    from sqlalchemy import func, select

    if HAS_TASK_STATE_STORE:
        from airflow.models.task_state_store import TaskStateStoreModel as Store

        query = select(func.count(), func.max(Store.updated_at)).where(
            Store.dag_id == dag_id, Store.run_id == run_id, Store.key == key
        )
    else:
        from airflow.models.xcom import XComModel

        query = select(func.count(), func.max(XComModel.timestamp)).where(
            XComModel.dag_id == dag_id,
            XComModel.run_id == run_id,
            XComModel.key.startswith(record_key("", key), autoescape=True),
        )
    count, latest = session.execute(query).one()
    return count, latest


def store_xcom(session: Session, dag_id: str, run_id: str, task_id: str, key: str, value: Any) -> None:
    """Store ``value`` as a task's XCom ``key`` in a run as the execution API stores a worker's push: JSON as is."""
    from sqlalchemy import delete, select

    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel

    dag_run_id = session.scalar(select(DagRun.id).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    session.execute(
        delete(XComModel).where(
            XComModel.dag_id == dag_id,
            XComModel.run_id == run_id,
            XComModel.task_id == task_id,
            XComModel.key == key,
            XComModel.map_index == -1,
        )
    )
    session.add(
        XComModel(
            dag_run_id=dag_run_id, dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=-1, key=key, value=value
        )
    )


def store_record(
    session: Session,
    dag_id: str,
    run_id: str,
    task_id: str,
    key: str,
    record: Any,
    holder_task_id: str = RECORDS_TASK_ID,
) -> None:
    """Store ``record`` as a task's record ``key`` in a run, where ``read_records`` and ``records_version`` find it."""
    if HAS_TASK_STATE_STORE:
        _store_state(session, dag_id, run_id, task_id, key, json.dumps(record))
        return
    from sqlalchemy import delete

    from airflow.models.xcom import XComModel

    stored_key = record_key(task_id, key)
    session.execute(
        delete(XComModel).where(XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == stored_key)
    )
    store_xcom(session, dag_id, run_id, holder_task_id, stored_key, record)


def _store_state(session: Session, dag_id: str, run_id: str, task_id: str, key: str, text: str) -> None:
    from datetime import datetime, timezone

    from sqlalchemy import delete, select

    from airflow.models.dagrun import DagRun
    from airflow.models.task_state_store import TaskStateStoreModel as Store

    dag_run_id = session.scalar(select(DagRun.id).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    session.execute(delete(Store).where(Store.dag_run_id == dag_run_id, Store.task_id == task_id, Store.key == key))
    session.add(
        Store(
            dag_run_id=dag_run_id,
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            map_index=-1,
            key=key,
            value=text,
            updated_at=datetime.now(timezone.utc),
        )
    )


warn_if_untested()
