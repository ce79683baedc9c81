"""Actions that change Airflow: pause, trigger, clear, mark a run or a task; each one audited.

Every function raises :class:`DagActionError` (a
:class:`~console.services.errors.ServiceError` whose message names the server
and Airflow's reason) when Airflow refuses or cannot be reached, and
:class:`~console.services.server_clients.UnknownServer` for a server id that names no
enabled server.  ``actor`` is the email of the person acting, or a system
actor (``system:scheduler``, ``system:cli``); it is the actor the audit row
names. Every attempt that reached Airflow, accepted or refused, is written as
exactly one row of the audit table ``audit_event`` (and a ``console.audit``
log line) by :func:`record_action` and drops the cached reads it changes (the DAG's, and its
server's lists).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from console.airflow.errors import AirflowConflict, AirflowError
from console.extensions import db
from console.models.states import DagRunState, TaskInstanceState
from console.services.audit import record_airflow_action
from console.services.dags import invalidate
from console.services.errors import ServiceError
from console.services.server_clients import ServerFailure, ServerHandle, resolve_server

if TYPE_CHECKING:
    from console.airflow.client import AirflowClient, Dag, DagRun, TaskInstance

R = TypeVar("R")
MARKABLE_RUN_STATES = (DagRunState.SUCCESS, DagRunState.FAILED)
MARKABLE_TASK_STATES = (TaskInstanceState.SUCCESS, TaskInstanceState.FAILED)


class DagActionError(ServiceError):
    """An action Airflow refused or could not carry out; ``str()`` is for people."""

    def __init__(self, exc: AirflowError) -> None:
        super().__init__(str(exc))
        self.failure = ServerFailure.from_error(exc)
        #: Airflow rejected what was sent (400/422), e.g. invalid params.
        self.bad_request = exc.status in (400, 422)


#: Called with the run id (when there is one) and the error (None: done) just before the audit
#: row is committed, so that what the caller records about the action is in the same commit.
Outcome = Callable[[str | None, str | None], None]


def record_action(
    actor: str,
    action: str,
    *,
    server: str,
    dag_id: str,
    run_id: str | None = None,
    before_commit: Outcome | None = None,
    **detail: Any,
) -> None:
    """Record one state-changing action by ``actor`` (refusals too) in the audit table and the
    ``console.audit`` log, and commit it (with what ``before_commit`` adds)."""
    outcome = detail.pop("outcome", "done")
    error = detail.pop("error", None) if outcome != "done" else None
    record_airflow_action(
        action,
        server,
        actor=actor,
        dag_id=dag_id,
        run_id=run_id,
        task_id=detail.get("task_id"),
        detail=detail,
        error=(error or "refused by Airflow") if outcome != "done" else None,
    )
    if before_commit is not None:
        before_commit(run_id, (error or "refused by Airflow") if outcome != "done" else None)
    db.session.commit()


def _perform(
    actor: str,
    action: str,
    server: ServerHandle,
    dag_id: str,
    call: Callable[[AirflowClient], R],
    *,
    run_id: str | None = None,
    before_commit: Outcome | None = None,
    job_id: int | None = None,
    **detail: Any,
) -> R:
    """Run ``call`` against the server, audit the outcome (refusals too) and drop the cached reads
    of the DAG and its server's lists.

    ``job_id``: the background job this action is an item of (kept in the audit detail)."""
    if job_id is not None:
        detail["job"] = job_id
    try:
        result = call(server.client)
    except AirflowError as exc:
        detail.update(outcome="refused", error=str(exc))
        record_action(
            actor, action, server=server.name, dag_id=dag_id, run_id=run_id, before_commit=before_commit, **detail
        )
        raise DagActionError(exc) from None
    finally:
        invalidate(server.id, dag_id)
    run_id = run_id or getattr(result, "run_id", None)
    detail.update(outcome="done")
    record_action(
        actor, action, server=server.name, dag_id=dag_id, run_id=run_id, before_commit=before_commit, **detail
    )
    return result


def set_paused(
    actor: str,
    server_id: int,
    dag_id: str,
    paused: bool,
    *,
    job_id: int | None = None,
    before_commit: Outcome | None = None,
) -> Dag:
    """Pause or unpause. A background job passes its ``job_id`` and a ``before_commit`` that
    records the item's outcome in the audit row's commit (so for trigger and clear too)."""
    server = resolve_server(server_id)
    action = "pause" if paused else "unpause"

    def call(client: AirflowClient) -> Dag:
        return client.set_paused(dag_id, paused)

    return _perform(actor, action, server, dag_id, call, job_id=job_id, before_commit=before_commit)


def trigger(
    actor: str,
    server_id: int,
    dag_id: str,
    *,
    conf: dict[str, Any] | None = None,
    logical_date: datetime | None = None,
    note: str | None = None,
    run_id: str | None = None,
    job_id: int | None = None,
    before_commit: Outcome | None = None,
) -> DagRun:
    """Create a manual run; Airflow's refusal (e.g. invalid params) raises :class:`DagActionError`
    with ``bad_request`` set.

    With a ``run_id`` that already exists the run is taken as this trigger's own (a background
    job retrying a trigger whose answer it never recorded) and returned, not refused.
    """
    server = resolve_server(server_id)

    def call(client: AirflowClient) -> DagRun:
        try:
            return client.trigger_dag_run(
                dag_id, run_id=run_id, conf=conf, logical_date=logical_date, note=note or None
            )
        except AirflowConflict:
            if run_id is None:
                raise
            return client.get_dag_run(dag_id, run_id)

    return _perform(
        actor,
        "trigger",
        server,
        dag_id,
        call,
        conf=conf,
        logical_date=logical_date.isoformat() if logical_date else None,
        job_id=job_id,
        before_commit=before_commit,
    )


def clear(
    actor: str,
    server_id: int,
    dag_id: str,
    run_id: str,
    *,
    task_id: str | None = None,
    only_failed: bool = False,
    job_id: int | None = None,
    before_commit: Outcome | None = None,
) -> list[TaskInstance]:
    """Clear one task (``task_id``) or the whole run (only its failed tasks with ``only_failed``);
    the cleared tasks run again."""
    server = resolve_server(server_id)
    scope = f"task {task_id}" if task_id else ("failed tasks" if only_failed else "whole run")
    return _perform(
        actor,
        "clear",
        server,
        dag_id,
        lambda c: c.clear_task_instances(
            dag_id, run_id=run_id, task_ids=[task_id] if task_id else None, only_failed=only_failed
        ),
        run_id=run_id,
        scope=scope,
        job_id=job_id,
        before_commit=before_commit,
    )


def latest_run_id(server_id: int, dag_id: str) -> str:
    """The run id of the DAG's latest run (by ``run_after``), for "Clear latest run";
    :class:`ServiceError` when it never ran or Airflow cannot say."""
    server = resolve_server(server_id)
    try:
        runs = server.client.list_dag_runs(dag_id, limit=1, order_by="-run_after")
    except AirflowError as exc:
        raise DagActionError(exc) from None
    if not runs:
        raise ServiceError(f"DAG {dag_id!r} on {server.name!r} has no run to clear.")
    return runs[0].run_id


def mark_run(actor: str, server_id: int, dag_id: str, run_id: str, state: str) -> DagRun:
    """Set a run's state to success or failed (Airflow sets its unfinished tasks to match)."""
    if state not in MARKABLE_RUN_STATES:
        raise ServiceError(f"A run can only be marked {' or '.join(MARKABLE_RUN_STATES)}.")
    server = resolve_server(server_id)
    return _perform(
        actor, f"mark {state}", server, dag_id, lambda c: c.set_dag_run_state(dag_id, run_id, state), run_id=run_id
    )


def mark_task(
    actor: str, server_id: int, dag_id: str, run_id: str, task_id: str, state: str, *, map_index: int = -1
) -> list[TaskInstance]:
    """Set one task instance's state to success or failed (``map_index`` -1: an unmapped task).

    Airflow then clears the failed or upstream-failed tasks downstream of it, so they run
    again; it refuses (409) a task instance already in ``state``.
    """
    if state not in MARKABLE_TASK_STATES:
        raise ServiceError(f"A task can only be marked {' or '.join(MARKABLE_TASK_STATES)}.")
    server = resolve_server(server_id)
    return _perform(
        actor,
        f"mark {state}",
        server,
        dag_id,
        lambda c: c.set_task_instance_state(dag_id, run_id, task_id, state, map_index=map_index),
        run_id=run_id,
        task_id=task_id,
        map_index=map_index,
    )
