"""Retention: the scheduler (or ``manage.py audit purge``) deletes audit rows older than the
retention, keeps what is still needed, and records the purge as a ``system`` event."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import AirflowServer, AuditEvent, Transaction, User
from console.models.timeutil import utcnow
from console.scheduler.process import SchedulerProcess
from console.services import audit, audit_retention, servers
from console.versioning import acting_as
from tests.conftest import make_user

OLD = timedelta(days=400)


def old_event(action: str, *, reverts_id: int | None = None, age: timedelta = OLD) -> int:
    row = audit.record_event(action, actor=audit.CLI_ACTOR, reverts_id=reverts_id)
    row.at = utcnow() - age
    db.session.commit()
    return row.id


def server_versions() -> list[tuple[int, int | None]]:
    table = sa.Table("airflow_server_version", db.metadata, autoload_with=db.engine, extend_existing=True)
    rows = db.session.execute(sa.select(table.c.transaction_id, table.c.end_transaction_id)).all()
    return sorted((r[0], r[1]) for r in rows)


def seed(app: Flask) -> dict[str, int]:
    """Old events (one reverted by a kept event), a server changed long ago and once since.

    The server's transactions are moved back in time; its audit events cannot be (append-only)."""
    with app.app_context(), acting_as(audit.CLI_ACTOR):
        ids = {"old": old_event("old"), "reverted": old_event("reverted"), "recent": old_event("recent", age=OLD / 10)}
        ids["revert"] = old_event("revert", reverts_id=ids["reverted"], age=timedelta(0))
        server = servers.register_server(name="prod", base_url="http://127.0.0.1:9", username="u", secret="p")
        db.session.commit()
        server = db.session.get(AirflowServer, server.id)
        server.username = "v"
        db.session.commit()
        db.session.execute(sa.update(Transaction).values(issued_at=utcnow() - OLD))
        db.session.commit()
        server = db.session.get(AirflowServer, server.id)
        server.username = "w"
        db.session.commit()
    return ids


def remaining(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.category != "system")))


def test_purge_deletes_what_is_old_and_keeps_what_is_needed(app_factory) -> None:
    app = app_factory(AUDIT_PURGE_BATCH=1)
    seed(app)
    with app.app_context():
        first, second, third = (tx for tx, _ in server_versions())
        report = audit_retention.purge()
        assert report.deleted["audit_event"] == 1  # "old"; "reverted" is named by a kept revert
        assert server_versions() == [(second, third), (third, None)]
        transactions = set(db.session.scalars(sa.select(Transaction.id)))
        assert first not in transactions and {second, third} <= transactions
        purge = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.category == "system")).one()
        assert (purge.action, purge.actor, purge.user_id) == ("audit.purge", "system:scheduler", None)
        detail = json.loads(purge.detail)
        assert detail["retention_days"] == 365 and detail["deleted"] == report.deleted
    assert sorted(remaining(app)) == [
        "airflow_server.create",
        "airflow_server.update",
        "airflow_server.update",
        "recent",
        "revert",
        "reverted",
    ]


def test_dry_run_counts_and_deletes_nothing(app: Flask, runner) -> None:
    seed(app)
    before = remaining(app)
    result = runner.invoke(args=["audit", "purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Would delete" in result.output and "audit_event\t1" in result.output
    assert remaining(app) == before
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.category == "system")) == 0


def test_cli_purge_carries_the_cli_actor(app: Flask, runner) -> None:
    seed(app)
    result = runner.invoke(args=["audit", "purge"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        purge = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.category == "system")).one()
        assert purge.actor == "system:cli"


def test_scheduler_leader_purges_once_a_day(app_factory) -> None:
    app = app_factory(AUDIT_RETENTION_DAYS=30)
    seed(app)
    process = SchedulerProcess(app, instance_id="purger")
    thread = process.purge_if_due(now=1000.0)
    assert thread is not None
    thread.join(30)
    assert not thread.is_alive()
    assert process.purge_if_due(now=1000.0 + process.purge_every - 1) is None
    with app.app_context():
        purge = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.category == "system")).one()
        assert purge.actor == "system:scheduler" and json.loads(purge.detail)["retention_days"] == 30
    assert "recent" not in remaining(app)  # 40 days old: kept under 365, purged under 30


def test_audit_rows_refuse_updates_in_the_database(app: Flask) -> None:
    make_user(app, "gone@example.com", "viewer")
    with app.app_context():
        event = audit.record_event("sign_in", actor="gone@example.com", category="auth")
        db.session.commit()
        event_id = event.id
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == event_id).values(outcome="failed"))
        db.session.rollback()
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == event_id).values(user_id=None, actor="x"))
        db.session.rollback()
        # Deleting the account sets user_id to NULL (the one update allowed); the event stays.
        db.session.execute(sa.delete(User).where(User.email == "gone@example.com"))
        db.session.commit()
        db.session.expire_all()
        kept = db.session.get(AuditEvent, event_id)
        assert kept is not None and kept.user_id is None and kept.actor == "gone@example.com"
