"""Liveness and readiness facts for /healthz, /readyz and the admin home."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app

from console.extensions import db
from console.models import SchedulerHeartbeat
from console.models.timeutil import utcnow


def database_ok() -> tuple[bool, str]:
    try:
        db.session.execute(sa.text("SELECT 1"))
        return True, "reachable"
    except sa.exc.SQLAlchemyError as exc:
        db.session.rollback()
        return False, f"unreachable: {type(exc).__name__}"


def scheduler_status() -> dict[str, Any]:
    """The freshest scheduler heartbeat and whether it is stale."""
    try:
        beat = db.session.scalars(
            sa.select(SchedulerHeartbeat).order_by(
                SchedulerHeartbeat.is_leader.desc(), SchedulerHeartbeat.beat_at.desc()
            )
        ).first()
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return {"ok": False, "detail": "unknown (database unreachable)", "last_beat": None}
    if beat is None:
        return {"ok": False, "detail": "never seen: start it with `python manage.py scheduler`", "last_beat": None}
    age = (utcnow() - beat.beat_at).total_seconds()
    stale = age > current_app.config["SCHEDULER_STALE_AFTER_SECONDS"]
    detail = f"last heartbeat {int(age)} s ago from {beat.hostname} (pid {beat.pid})"
    if beat.is_leader:
        detail += ", leader"
    return {"ok": not stale, "detail": ("stale: " if stale else "") + detail, "last_beat": beat.beat_at.isoformat()}


def overview() -> dict[str, dict[str, Any]]:
    ok, detail = database_ok()
    return {"database": {"ok": ok, "detail": detail}, "scheduler": scheduler_status()}


def readiness(*, with_reasons: bool) -> tuple[dict[str, Any], bool]:
    """The ``/readyz`` answer and whether the console is ready (its database answers).

    Without ``with_reasons`` (anonymous callers: load balancers, probes) each check says only
    whether it is ok; the details -- the scheduler's host name and pid, the database error --
    are for signed-in users.
    """
    checks = overview()
    ready = bool(checks["database"]["ok"])
    if not with_reasons:
        checks = {name: {"ok": check["ok"]} for name, check in checks.items()}
    return {"status": "ready" if ready else "not ready", "checks": checks}, ready
