"""The console on PostgreSQL: migrations apply, sign-in works, changes are versioned with their actor."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy_continuum import version_class

from console.extensions import db
from console.models import LoginAttempt, User
from tests.conftest import Auth, make_user

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def test_migrations_match_the_models(pg_app: Flask) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with pg_app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_sign_in_delay_and_audit_on_postgres(pg_app: Flask) -> None:
    assert pg_app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    client = pg_app.test_client()
    auth = Auth(pg_app, client)
    auth("admin")
    home = client.get("/admin/")
    assert home.status_code == 200 and "admin@example.com" in home.get_data(as_text=True)
    make_user(pg_app, "viewer@example.com", "viewer")
    other = Auth(pg_app, pg_app.test_client())
    for _ in range(pg_app.config["LOGIN_MAX_FAILURES"]):
        other.login("viewer@example.com", "wrong password!!")
    assert "Too many failed attempts" in other.login("viewer@example.com").get_data(as_text=True)
    with pg_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)) >= 6
        versions = db.session.scalars(sa.select(version_class(User))).all()
        assert {v.email for v in versions} >= {"admin@example.com", "viewer@example.com"}


def test_audit_rows_are_append_only_on_postgres(pg_app: Flask) -> None:
    """The trigger refuses an UPDATE of an audit row; deleting the account only clears user_id."""
    from console.models import AuditEvent
    from console.services import audit

    make_user(pg_app, "gone@example.com", "viewer")
    with pg_app.app_context():
        event = audit.record_event("sign_in", actor="gone@example.com", category="auth")
        db.session.commit()
        event_id = event.id
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == event_id).values(outcome="failed"))
        db.session.rollback()
        db.session.execute(sa.delete(User).where(User.email == "gone@example.com"))
        db.session.commit()
        db.session.expire_all()
        kept = db.session.get(AuditEvent, event_id)
        assert kept is not None and kept.user_id is None and kept.actor == "gone@example.com"
