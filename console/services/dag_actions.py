"""Actions that change Airflow: pause, trigger, clear, mark a run or a task; each one audited.

Every function raises :class:`DagActionError` (a
:class:`~console.services.errors.ServiceError` whose message names the server
and Airflow's reason) when Airflow refuses or cannot be reached, and
:class:`~console.services.server_clients.UnknownServer` for a server id that names no
enabled server.  ``actor`` is the email of the person acting, or a system
actor (``system:scheduler``, ``system:cli``); it is the actor the audit row
names. Every attempt that reached Airflow, accepted or refused, is written as
exactly one row of the audit table ``airflow_action`` (and a ``console.audit``
log line) by :func:`record_action` and drops the cached reads it changes (the DAG's, and its
server's lists).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from console.airflow.errors import AirflowError
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
BULK_ACTIONS = ("pause", "unpause", "trigger")


class DagActionError(ServiceError):
    """An action Airflow refused or could not carry out; ``str()`` is for people."""

    def __init__(self, exc: AirflowError) -> None:
        super().__init__(str(exc))
        self.failure = ServerFailure.from_error(exc)
        #: Airflow rejected what was sent (400/422), e.g. invalid params.
        self.bad_request = exc.status in (400, 422)


def record_action(
    actor: str, action: str, *, server: str, dag_id: str, run_id: str | None = None, **detail: Any
) -> None:
    """Record one state-changing action by ``actor`` (refusals too) in the audit table and the
    ``console.audit`` log, and commit it."""
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
    db.session.commit()


def _perform(
    actor: str,
    action: str,
    server: ServerHandle,
    dag_id: str,
    call: Callable[[AirflowClient], R],
    *,
    run_id: str | None = None,
    **detail: Any,
) -> R:
    """Run ``call`` against the server, audit the outcome (refusals too) and drop the cached reads
    of the DAG and its server's lists."""
    try:
        result = call(server.client)
    except AirflowError as exc:
        record_action(
            actor, action, server=server.name, dag_id=dag_id, run_id=run_id, outcome="refused", error=str(exc), **detail
        )
        raise DagActionError(exc) from None
    finally:
        invalidate(server.id, dag_id)
    run_id = run_id or getattr(result, "run_id", None)
    record_action(actor, action, server=server.name, dag_id=dag_id, run_id=run_id, outcome="done", **detail)
    return result


def set_paused(actor: str, server_id: int, dag_id: str, paused: bool) -> Dag:
    server = resolve_server(server_id)
    action = "pause" if paused else "unpause"
    return _perform(actor, action, server, dag_id, lambda c: c.set_paused(dag_id, paused))


def trigger(
    actor: str,
    server_id: int,
    dag_id: str,
    *,
    conf: dict[str, Any] | None = None,
    logical_date: datetime | None = None,
    note: str | None = None,
) -> DagRun:
    """Create a manual run; Airflow's refusal (e.g. invalid params) raises :class:`DagActionError`
    with ``bad_request`` set."""
    server = resolve_server(server_id)
    return _perform(
        actor,
        "trigger",
        server,
        dag_id,
        lambda c: c.trigger_dag_run(dag_id, conf=conf, logical_date=logical_date, note=note or None),
        conf=conf,
        logical_date=logical_date.isoformat() if logical_date else None,
    )


def clear(
    actor: str, server_id: int, dag_id: str, run_id: str, *, task_id: str | None = None, only_failed: bool = False
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
    )


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


@dataclass
class BulkReport:
    done: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def bulk(actor: str, action: str, keys: list[str]) -> BulkReport:
    """Apply ``action`` to each ``"<server id>:<dag id>"`` of ``keys``; one failure never stops the rest."""
    if action not in BULK_ACTIONS:
        raise ServiceError(f"Unknown bulk action {action!r}.")
    report = BulkReport()
    for key in dict.fromkeys(keys):
        sid, _, dag_id = key.partition(":")
        if not sid.isdigit() or not dag_id:
            report.failures.append(f"{key!r} does not name a DAG")
            continue
        try:
            if action == "trigger":
                trigger(actor, int(sid), dag_id)
            else:
                set_paused(actor, int(sid), dag_id, action == "pause")
        except ServiceError as exc:
            report.failures.append(str(exc))
        else:
            report.done.append(dag_id)
    return report
