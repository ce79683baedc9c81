"""The console's own side of the dashboard: its tasks (enabled, due within the hour, failing),
their next fires, and the job worker's heartbeat.  Database only, no Airflow call."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from console.extensions import db
from console.models import FireState, Task, TaskRun
from console.services import cron, job_workers

#: "Due soon" means within this long.
DUE_WITHIN = timedelta(hours=1)


@dataclass(frozen=True)
class UpcomingFire:
    task_id: int
    task_name: str
    dag_id: str
    server_name: str
    #: Naive UTC.
    at: datetime


@dataclass
class ConsoleSide:
    tasks_total: int = 0
    tasks_enabled: int = 0
    due_within_hour: int = 0
    failing: int = 0
    upcoming: list[UpcomingFire] = field(default_factory=list)
    worker: dict[str, Any] | None = None


def worker_heartbeat() -> dict[str, Any] | None:
    """The job worker's latest heartbeat (``{"beat_at": ..., "detail": ...}``), or ``None`` when
    no worker has beaten lately (the page shows "not running / no heartbeat")."""
    return job_workers.latest()


def _failing_task_ids() -> set[int]:
    """Enabled tasks whose latest finished fire failed: one query."""
    latest = (
        sa.select(TaskRun.task_id, sa.func.max(TaskRun.scheduled_for).label("at"))
        .where(TaskRun.state.in_([FireState.SUCCESS, FireState.FAILED]))
        .group_by(TaskRun.task_id)
        .subquery()
    )
    rows = db.session.scalars(
        sa.select(TaskRun.task_id)
        .join(latest, sa.and_(TaskRun.task_id == latest.c.task_id, TaskRun.scheduled_for == latest.c.at))
        .join(Task, Task.id == TaskRun.task_id)
        .where(TaskRun.state == FireState.FAILED, Task.enabled.is_(True))
    )
    return set(rows)


def console_side(now: datetime, *, listed: int) -> ConsoleSide:
    """The console's tasks at ``now`` (naive UTC); ``listed`` next fires, soonest first."""
    side = ConsoleSide(worker=worker_heartbeat())
    side.tasks_total = db.session.scalar(sa.select(sa.func.count()).select_from(Task)) or 0
    enabled = list(
        db.session.scalars(sa.select(Task).where(Task.enabled.is_(True)).options(sa.orm.selectinload(Task.server)))
    )
    side.tasks_enabled = len(enabled)
    aware_now = now.replace(tzinfo=UTC)
    fires = []
    for task in enabled:
        moment = cron.next_fire(task.cron, task.timezone, now=aware_now)
        if moment is not None:
            at = cron.to_utc_naive(moment)
            fires.append(UpcomingFire(task.id, task.name, task.dag_id, task.server.name, at))
    fires.sort(key=lambda f: f.at)
    side.due_within_hour = sum(1 for f in fires if f.at <= now + DUE_WITHIN)
    side.upcoming = fires[:listed]
    side.failing = len(_failing_task_ids())
    return side
