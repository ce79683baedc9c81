"""Every change to a versioned row writes one audit event with only the changed fields,
secrets masked, attributed to the person, ``system:cli`` or ``system:scheduler``."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import AirflowServer, AuditEvent, Role, Task, Transaction, User
from console.services import audit, servers, tasks, users, webhooks
from console.versioning import acting_as
from tests import static_dns


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    static_dns.install(monkeypatch)


def console_events(app: Flask, object_type: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        query = sa.select(AuditEvent).where(AuditEvent.category == "console").order_by(AuditEvent.id)
        if object_type:
            query = query.where(AuditEvent.object_type == object_type)
        rows = list(db.session.scalars(query))
        for row in rows:
            db.session.expunge(row)
        return rows


def diff(event: AuditEvent) -> tuple[Any, Any]:
    return audit.masked(event.before), audit.masked(event.after)


def make_server(name: str = "prod", secret: str = "pw-one") -> int:
    server = servers.register_server(name=name, base_url="http://127.0.0.1:9", username="u", secret=secret)
    db.session.commit()
    return server.id


def test_server_create_update_delete_diffs(app: Flask) -> None:
    with app.app_context(), acting_as(audit.CLI_ACTOR):
        server_id = make_server()
        server = db.session.get(AirflowServer, server_id)
        server.read_timeout = 42.0
        server.username = "v"
        servers.set_secret(server, "pw-two")
        db.session.commit()
        db.session.delete(db.session.get(AirflowServer, server_id))
        db.session.commit()
    created, updated, deleted = console_events(app, "airflow_server")
    assert (created.action, updated.action, deleted.action) == (
        "airflow_server.create",
        "airflow_server.update",
        "airflow_server.delete",
    )
    assert {e.actor for e in (created, updated, deleted)} == {"system:cli"}
    assert {e.object_id for e in (created, updated, deleted)} == {str(server_id)}
    before, after = diff(created)
    assert before is None and after["name"] == "prod" and after["secret_ciphertext"] == "set"
    before, after = diff(updated)
    assert set(after) == {"read_timeout", "username", "secret_ciphertext", "secret_changed_at"}
    assert (before["username"], after["username"]) == ("u", "v")
    assert after["read_timeout"] == 42.0
    assert after["secret_ciphertext"] == "changed" and before["secret_ciphertext"] == audit.MASK
    before, after = diff(deleted)
    assert after is None and before["name"] == "prod" and before["username"] == "v"
    with app.app_context():
        transactions = {t.id: t.actor for t in db.session.scalars(sa.select(Transaction))}
    assert transactions[updated.transaction_id] == "system:cli"


def test_two_flushes_in_one_transaction_make_one_event(app: Flask) -> None:
    with app.app_context(), acting_as(audit.CLI_ACTOR):
        server_id = make_server()
        server = db.session.get(AirflowServer, server_id)
        server.username = "first"
        db.session.flush()
        server.username = "second"
        server.read_timeout = 7.0
        db.session.commit()
    updates = [e for e in console_events(app, "airflow_server") if e.action == "airflow_server.update"]
    assert len(updates) == 1
    assert diff(updates[0]) == ({"username": "u", "read_timeout": 10.0}, {"username": "second", "read_timeout": 7.0})


def test_a_rollback_leaves_no_event(app: Flask) -> None:
    with app.app_context(), acting_as(audit.CLI_ACTOR):
        server_id = make_server()
        db.session.get(AirflowServer, server_id).username = "never"
        db.session.flush()
        db.session.rollback()
        db.session.commit()
    assert [e.action for e in console_events(app)] == ["airflow_server.create"]


def test_task_diff_and_webhook_masked(app: Flask) -> None:
    with app.app_context(), acting_as(audit.SCHEDULER_ACTOR):
        server_id = make_server()
        task = tasks.create_task(
            {"name": "nightly", "server_id": server_id, "dag_id": "d", "cron": "0 1 * * *"}, check_dag=False
        )
        db.session.commit()
        task = db.session.get(Task, task.id)
        task.cron = "0 2 * * *"
        webhooks.set_webhook(task, "https://hooks.example.com/T0/secret-token-123")
        db.session.commit()
    created, updated = console_events(app, "task")
    assert created.action == "task.create" and created.actor == "system:scheduler"
    assert diff(created)[1]["cron"] == "0 1 * * *"
    before, after = diff(updated)
    assert (before["cron"], after["cron"]) == ("0 1 * * *", "0 2 * * *")
    assert after["alert_webhook_ciphertext"] == "changed"
    assert "secret-token-123" not in (updated.before or "") + (updated.after or "")


def test_user_roles_and_password_show_masked(app: Flask) -> None:
    with app.app_context(), acting_as(audit.CLI_ACTOR):
        users.create_user("ann@example.com", "viewer", "correct horse battery")
        db.session.commit()
        users.add_role("ann@example.com", "operator")
        db.session.commit()
        users.set_password("ann@example.com", "another long passphrase")
        db.session.commit()
    events = console_events(app, "user")
    assert [e.action for e in events] == ["user.create", "user.update", "user.update"]
    created, granted, password = events
    after = diff(created)[1]
    assert after["email"] == "ann@example.com" and after["roles"] == ["viewer"]
    assert after["password"] == "set" and "last_login_at" not in after
    assert diff(granted) == ({"roles": ["viewer"]}, {"roles": ["operator", "viewer"]})
    assert diff(password) == (
        {"password": audit.MASK, "fs_uniquifier": audit.MASK},
        {"password": "changed", "fs_uniquifier": "changed"},
    )
    with app.app_context():
        stored = db.session.get(User, created.object_id and int(created.object_id))
        assert stored is not None
        for event in events:
            assert stored.password not in json.dumps([event.before, event.after])
            assert stored.fs_uniquifier not in json.dumps([event.before, event.after])
    assert [e.action for e in console_events(app, "role")] == ["role.create"] * 3
    with app.app_context(), acting_as(audit.CLI_ACTOR):
        db.session.delete(users.find_user("ann@example.com"))
        db.session.commit()
    deleted = console_events(app, "user")[-1]
    before, after = diff(deleted)
    assert deleted.action == "user.delete" and after is None
    assert before["email"] == "ann@example.com" and before["roles"] == ["operator", "viewer"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Role)) == 3
