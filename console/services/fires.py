"""The fire path: record a fire, then trigger its DAG run, exactly once, and audit each attempt.

Every fire is first written as a ``TaskRun`` row, unique on (task, scheduled
time), and carries a deterministic Airflow run id (:func:`dag_run_id`). Only
then is Airflow asked to create the run. Whatever happens in between -- a
crash, a timeout, a second scheduler -- the retry sends the same run id, and
Airflow's 409 for a run id it already has means "already triggered".

A pending row is *claimed* before each attempt by moving its
``next_attempt_at`` past the longest time the attempt can take; a claim that
is never resolved (the process died) simply expires and the run is retried.
The claim reads everything the attempt needs (:class:`Attempt`), so a
trigger costs one Airflow call, one ``UPDATE`` and one audit ``INSERT``
(:class:`~console.models.AuditEvent`, naming who made the call) in one
commit. The scheduler's lanes and the "Run now" button (:func:`run_now` in
:mod:`console.services.tasks`) both use :func:`attempt`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from console.airflow.errors import AirflowBadRequest, AirflowConflict, AirflowError, AirflowNotFound
from console.extensions import db
from console.models import AirflowServer, FireState, Task, TaskRun
from console.models.timeutil import utcnow
from console.security.secrets import SecretUnreadable
from console.services.audit import SCHEDULER_ACTOR, record_airflow_action
from console.services.read_cache import invalidate

log = logging.getLogger(__name__)

RUN_ID_PREFIX = "console__task-"
#: Longest wait between two attempts, as a multiple of the task's backoff.
MAX_BACKOFF_FACTOR = 8


def run_id_prefix(task_id: int, created_at: datetime) -> str:
    """``console__task-7-3f9a1c__``: the task's id and a digest of its creation time.

    The digest keeps run ids apart when a console database is recreated and
    task ids are reused against the same Airflow (a reused run id would be a
    409, taken for "already triggered").
    """
    digest = hashlib.sha256(f"{task_id}:{created_at.isoformat()}".encode()).hexdigest()[:6]
    return f"{RUN_ID_PREFIX}{task_id}-{digest}__"


def dag_run_id(task_id: int, created_at: datetime, scheduled_for: datetime, kind: str = "scheduled") -> str:
    """The Airflow run id of a fire: ``console__task-7-3f9a1c__2026-03-30T05:00:00Z``.

    Manual runs say so and keep microseconds: ``console__task-7-3f9a1c__manual__2026-03-30T05:00:01.250000Z``.
    """
    prefix = run_id_prefix(task_id, created_at)
    if kind == "manual":
        return f"{prefix}manual__{scheduled_for:%Y-%m-%dT%H:%M:%S.%f}Z"
    return f"{prefix}{scheduled_for:%Y-%m-%dT%H:%M:%S}Z"


@dataclass(frozen=True)
class Fire:
    """One fire to record: naive-UTC ``scheduled_for``; ``state`` is 'pending' or 'missed'."""

    task_id: int
    scheduled_for: datetime
    kind: str = "scheduled"
    state: FireState = FireState.PENDING
    error: str | None = None


def _insert_ignoring_duplicates() -> sa.Insert:
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(TaskRun).on_conflict_do_nothing(index_elements=["task_id", "scheduled_for"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(TaskRun).on_conflict_do_nothing(index_elements=["task_id", "scheduled_for"])


def record_fires(batch: Iterable[Fire], *, now: datetime | None = None) -> int:
    """Insert a ``TaskRun`` for each fire not recorded yet; return how many were new.

    These are the scheduler's fires: each is requested by ``system:scheduler``.
    Safe to repeat and safe against a second scheduler: a fire already recorded
    is left alone (``INSERT ... ON CONFLICT DO NOTHING``). The caller commits.
    """
    now = now or utcnow()
    fires = list(batch)
    wanted = {f.task_id for f in fires}
    created = dict(db.session.execute(sa.select(Task.id, Task.created_at).where(Task.id.in_(wanted))).tuples().all())
    rows = [
        {
            "task_id": f.task_id,
            "scheduled_for": f.scheduled_for,
            "kind": f.kind,
            "state": f.state,
            "dag_run_id": dag_run_id(f.task_id, created[f.task_id], f.scheduled_for, f.kind),
            "attempts": 0,
            "next_attempt_at": now if f.state == FireState.PENDING else None,
            "finished_at": now if f.state == FireState.MISSED else None,
            "error": f.error,
            "requested_by": SCHEDULER_ACTOR,
            "created_at": now,
        }
        for f in fires
        if f.task_id in created  # a task deleted meanwhile has nothing to fire
    ]
    # One row per (task, moment): a batch naming a fire twice would otherwise count it twice on
    # PostgreSQL, whose batched insert reports no row count; RETURNING counts what was inserted.
    rows = list({(r["task_id"], r["scheduled_for"]): r for r in reversed(rows)}.values())[::-1]
    if not rows:
        return 0
    result = db.session.connection().execute(_insert_ignoring_duplicates().returning(TaskRun.id), rows)
    return len(result.all())


def claim_hold(server: AirflowServer) -> timedelta:
    """How long a claim lasts per run: longer than any single trigger call to ``server`` can take."""
    return timedelta(seconds=float(server.connect_timeout) + float(server.read_timeout) + 10)


@dataclass(frozen=True)
class Attempt:
    """A claimed pending run and everything triggering it needs, read when it was claimed."""

    run_id: int
    dag_run_id: str
    kind: str
    scheduled_for: datetime
    created_at: datetime
    attempts: int
    requested_by: str | None
    task_id: int
    task_name: str
    dag_id: str
    conf_json: str
    retry_window_seconds: int
    retry_backoff_seconds: int
    server_name: str
    server_enabled: bool
    server_id: int


_ATTEMPT_COLUMNS = (
    TaskRun.id,
    TaskRun.dag_run_id,
    TaskRun.kind,
    TaskRun.scheduled_for,
    TaskRun.created_at,
    TaskRun.attempts,
    TaskRun.requested_by,
    Task.id,
    Task.name,
    Task.dag_id,
    Task.conf_json,
    Task.retry_window_seconds,
    Task.retry_backoff_seconds,
    AirflowServer.name,
    AirflowServer.enabled,
    AirflowServer.id,
)


def load_attempts(run_ids: Iterable[int]) -> list[Attempt]:
    """The :class:`Attempt` data of pending runs, oldest fire first (reads only)."""
    rows = db.session.execute(
        sa.select(*_ATTEMPT_COLUMNS)
        .join(Task, Task.id == TaskRun.task_id)
        .join(AirflowServer, AirflowServer.id == Task.server_id)
        .where(TaskRun.id.in_(list(run_ids)), TaskRun.state == FireState.PENDING)
        .order_by(TaskRun.scheduled_for, TaskRun.id)
    ).all()
    return [Attempt(*row) for row in rows]


def claim_due(server_id: int, *, now: datetime, hold: timedelta, limit: int = 1) -> list[Attempt]:
    """Claim up to ``limit`` due pending runs of tasks on ``server_id`` (commits).

    One conditional ``UPDATE ... RETURNING`` moves their ``next_attempt_at``
    to ``now + hold * n``: whoever else looks (another lane, another process,
    the "Run now" button) sees them as taken until then.
    """
    due = db.session.scalars(
        sa.select(TaskRun.id)
        .join(Task, Task.id == TaskRun.task_id)
        .where(TaskRun.state == FireState.PENDING, TaskRun.next_attempt_at <= now, Task.server_id == server_id)
        .order_by(TaskRun.next_attempt_at, TaskRun.id)
        .limit(limit)
    ).all()
    if not due:
        db.session.rollback()
        return []
    won = db.session.scalars(
        sa.update(TaskRun)
        .where(TaskRun.id.in_(due), TaskRun.state == FireState.PENDING, TaskRun.next_attempt_at <= now)
        .values(next_attempt_at=now + hold * len(due))
        .returning(TaskRun.id)
        .execution_options(synchronize_session=False)
    ).all()
    claimed = load_attempts(won) if won else []
    db.session.commit()
    return claimed


def claim(run_id: int, *, now: datetime, hold: timedelta) -> Attempt | None:
    """Claim one due pending run; its :class:`Attempt`, or None if it is not due or someone has it."""
    won = db.session.scalars(
        sa.update(TaskRun)
        .where(TaskRun.id == run_id, TaskRun.state == FireState.PENDING, TaskRun.next_attempt_at <= now)
        .values(next_attempt_at=now + hold)
        .returning(TaskRun.id)
        .execution_options(synchronize_session=False)
    ).all()
    claimed = load_attempts(won) if won else []
    db.session.commit()
    return claimed[0] if claimed else None


class TriggerClient(Protocol):
    """What :func:`attempt` needs of an Airflow client."""

    def trigger_dag_run(
        self, dag_id: str, *, run_id: str | None = ..., conf: dict[str, Any] | None = ..., note: str | None = ...
    ) -> Any: ...


class LaneClient(TriggerClient, Protocol):
    """What a scheduler lane needs: :class:`TriggerClient`, and logging in ahead of time."""

    def log_in(self) -> None: ...


class _Unusable:
    """A client that could not be built: every trigger fails with the reason (and is retried)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def trigger_dag_run(self, dag_id: str, **_kwargs: Any) -> Any:
        raise self.error

    def log_in(self) -> None:
        raise self.error


def client_for(server: AirflowServer) -> LaneClient:
    """The server's Airflow client, or one failing with the reason it cannot be built."""
    from console.airflow.registry import client_for as registry_client_for

    try:
        return registry_client_for(server)
    except (AirflowError, SecretUnreadable) as exc:
        return _Unusable(exc)


def attempt(claimed: Attempt, client: TriggerClient, *, actor: str) -> str:
    """Trigger a claimed run once, record the outcome and audit it (one commit); returns the run's new state.

    Created, or 409 (the run id exists) -> 'triggered'. Airflow refusing the
    DAG or its conf -> 'failed' at once. Anything else (unreachable, 5xx,
    timeout, credentials) -> still 'pending', next attempt after a doubling
    backoff, or 'failed' with the reason once the task's retry window is over.
    Every attempt, whatever its outcome, writes one ``AuditEvent`` row
    naming ``actor``: the person who pressed "Run now", or ``system:scheduler``.
    """
    error, retry, existed = None, False, False
    try:
        if not claimed.server_enabled:
            raise AirflowBadRequest(claimed.server_name, "the server is disabled in the console")
        _trigger(client, claimed)
    except AirflowConflict:
        existed = True  # the run id exists: this fire was triggered before
    except (AirflowNotFound, AirflowBadRequest) as exc:
        error = str(exc)
    except (AirflowError, SecretUnreadable) as exc:
        error, retry = str(exc), True
    return _record(claimed, utcnow(), error, retry, actor=actor, existed=existed)


def _trigger(client: TriggerClient, claimed: Attempt) -> None:
    try:
        conf = json.loads(claimed.conf_json or "{}")
    except ValueError:
        raise AirflowBadRequest(claimed.server_name, "the task's conf is not valid JSON") from None
    note = (
        f"Airflow Console task {claimed.task_name!r} "
        f"({claimed.kind}, scheduled {claimed.scheduled_for:%Y-%m-%d %H:%M:%S} UTC)"
    )
    client.trigger_dag_run(claimed.dag_id, run_id=claimed.dag_run_id, conf=conf, note=note)


def _outcome(claimed: Attempt, now: datetime, error: str | None, retry: bool) -> dict[str, Any]:
    attempts = claimed.attempts + 1
    if error is None:
        return {"state": FireState.TRIGGERED, "triggered_at": now, "next_attempt_at": None, "error": None}
    deadline = claimed.created_at + timedelta(seconds=claimed.retry_window_seconds)
    if retry and now < deadline:
        backoff = max(1, claimed.retry_backoff_seconds)
        delay = timedelta(seconds=min(backoff * 2 ** (attempts - 1), backoff * MAX_BACKOFF_FACTOR))
        return {
            "state": FireState.PENDING,
            "next_attempt_at": min(now + delay, deadline),
            "error": f"attempt {attempts} failed, retrying: {error}",
        }
    window = f"gave up after {attempts} attempts in the {claimed.retry_window_seconds} s retry window: "
    reason = f"not triggered: {window if retry else ''}{error}"
    return {"state": FireState.FAILED, "next_attempt_at": None, "finished_at": now, "error": reason}


def _record(claimed: Attempt, now: datetime, error: str | None, retry: bool, *, actor: str, existed: bool) -> str:
    values = _outcome(claimed, now, error, retry)
    db.session.execute(
        sa.update(TaskRun)
        .where(TaskRun.id == claimed.run_id, TaskRun.state == FireState.PENDING)  # never undo another's success
        .values(attempts=TaskRun.attempts + 1, **values)
        .execution_options(synchronize_session=False)
    )
    detail = {
        "task": claimed.task_name,
        "kind": claimed.kind,
        "attempt": claimed.attempts + 1,
        "outcome": "already triggered" if existed else values["state"],
        "requested_by": claimed.requested_by,
    }
    record_airflow_action(
        "trigger",
        claimed.server_name,
        actor=actor,
        dag_id=claimed.dag_id,
        run_id=claimed.dag_run_id,
        detail=detail,
        error=values["error"],
    )
    db.session.commit()
    if values["state"] == FireState.TRIGGERED:
        invalidate(claimed.server_id, claimed.dag_id)  # the DAG has a new run
    level = logging.INFO if values["state"] == FireState.TRIGGERED else logging.WARNING
    log.log(
        level,
        "task %s: %s %s (attempt %d)%s",
        claimed.task_id,
        claimed.dag_run_id,
        values["state"],
        claimed.attempts + 1,
        f": {values['error']}" if values["error"] else "",
    )
    return str(values["state"])


def record_manual(task: Task, *, requested_by: str, now: datetime | None = None) -> TaskRun:
    """Record a manual fire of ``task`` (kind 'manual') asked for by ``requested_by``, already
    claimed by the caller; the caller commits."""
    now = now or utcnow()
    run = TaskRun(
        task_id=task.id,
        requested_by=requested_by,
        scheduled_for=now,
        kind="manual",
        state=FireState.PENDING,
        dag_run_id=dag_run_id(task.id, task.created_at, now, "manual"),
        attempts=0,
        next_attempt_at=now + claim_hold(task.server),
        created_at=now,
    )
    db.session.add(run)
    return run
