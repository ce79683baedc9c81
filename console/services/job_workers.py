"""The job workers' heartbeats: each ``manage.py worker`` process beats every
``JOBS_HEARTBEAT_SECONDS``; the dashboard shows the freshest one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from console.extensions import db
from console.models import WorkerHeartbeat
from console.models.timeutil import utcnow

#: Missing this many beats in a row, a worker counts as not running.
MISSED_BEATS = 3


def beat(instance_id: str, hostname: str, pid: int, running: int) -> None:
    """Record that worker ``instance_id`` is alive and running ``running`` jobs; commits."""
    row = db.session.get(WorkerHeartbeat, instance_id)
    if row is None:
        row = WorkerHeartbeat(instance_id=instance_id, hostname=hostname, pid=pid)
        db.session.add(row)
    row.beat_at, row.running = utcnow(), running
    db.session.commit()


def forget(instance_id: str) -> None:
    """A worker that stops cleanly removes its heartbeat; commits."""
    db.session.execute(sa.delete(WorkerHeartbeat).where(WorkerHeartbeat.instance_id == instance_id))
    db.session.commit()


def latest() -> dict[str, Any] | None:
    """The freshest worker heartbeat (``{"beat_at": ..., "detail": ...}``), or None when no
    worker has beaten within ``MISSED_BEATS`` beats."""
    interval = float(current_app.config["JOBS_HEARTBEAT_SECONDS"])
    now = utcnow()
    row = db.session.scalars(
        sa.select(WorkerHeartbeat)
        .where(WorkerHeartbeat.beat_at >= now - timedelta(seconds=interval * MISSED_BEATS))
        .order_by(WorkerHeartbeat.beat_at.desc())
    ).first()
    if row is None:
        return None
    age = int((now - row.beat_at).total_seconds())
    jobs = f"{row.running} {'job' if row.running == 1 else 'jobs'} running"
    return {
        "beat_at": row.beat_at.isoformat(),
        "detail": f"last heartbeat {age} s ago from {row.hostname} (pid {row.pid}), {jobs}",
    }
