"""An admin opens the audit log, filters it to a server's changes, and opens one entry's diff:
old and new values side by side, the server password masked, and a revert button."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from console.extensions import db
from console.models import AuditEvent
from console.services import audit
from tests.conftest import LiveServer, browser_login, make_user, screenshot

pytestmark = [pytest.mark.e2e]

SECRET = "e2e-planted-password"


def seed_trail(live_server: LiveServer) -> int:
    """A plausible trail; returns the id of the server change with a secret."""
    make_user(live_server.app, "operator@example.com", "operator")
    with live_server.app.app_context():
        rows = [
            ("sign_in", {"actor": "operator@example.com", "category": "auth"}),
            (
                "trigger",
                {
                    "actor": "operator@example.com",
                    "category": "airflow",
                    "object_type": "dag",
                    "object_id": "etl_daily",
                    "server_name": "prod",
                    "dag_id": "etl_daily",
                },
            ),
            (
                "pause",
                {
                    "actor": "system:scheduler",
                    "category": "airflow",
                    "object_type": "dag",
                    "object_id": "reports",
                    "server_name": "staging",
                    "dag_id": "reports",
                },
            ),
            (
                "clear",
                {
                    "actor": "operator@example.com",
                    "category": "airflow",
                    "object_type": "dag_run",
                    "object_id": "etl_daily/manual__1",
                    "server_name": "prod",
                    "dag_id": "etl_daily",
                    "outcome": "refused",
                    "error": "Only operators may clear",
                },
            ),
            (
                "update",
                {
                    "actor": "operator@example.com",
                    "object_type": "task",
                    "object_id": "4",
                    "before": {"cron": "0 * * * *", "enabled": True},
                    "after": {"cron": "*/5 * * * *", "enabled": True},
                },
            ),
            (
                "sign_in_failed",
                {"actor": "mallory@example.com", "category": "auth", "outcome": "failed", "error": "bad password"},
            ),
        ]
        for action, values in rows:
            audit.record_event(action, **values)
        change = audit.record_event(
            "update", actor="admin@example.com", object_type="airflow_server", object_id="1", server_name="prod",
            before={"base_url": "http://airflow-old:8080", "password": "old-" + SECRET, "read_timeout": 30},
            after={"base_url": "http://airflow:8080", "password": SECRET, "read_timeout": 60},
            secret_keys={"password"},
        )  # fmt: skip
        db.session.commit()
        return change.id


def test_admin_filters_the_audit_log_and_opens_a_diff(page: Any, live_server: LiveServer) -> None:
    change_id = seed_trail(live_server)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    browser_login(page, live_server, "admin")
    page.click("nav >> text=Audit log")
    page.wait_for_selector("[data-testid=audit-row]")
    with live_server.app.app_context():  # the seeded trail, the users' and roles' creation, the sign-in
        trail = db.session.scalars(sa.select(AuditEvent.id).order_by(AuditEvent.id.desc())).all()
    shown = [int(r.get_attribute("data-event-id")) for r in page.locator("[data-testid=audit-row]").all()]
    assert shown == trail and change_id in shown
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, "audit-log")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "audit-log-phone")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.fill("input[name=server]", "prod")
    page.select_option("select[name=category]", "console")
    page.click("[data-testid=audit-apply]")
    page.wait_for_url("**server=prod**")
    rows = page.locator("[data-testid=audit-row]")
    assert rows.count() == 1 and rows.first.get_attribute("data-event-id") == str(change_id)

    rows.first.locator("[data-testid=audit-open]").click()
    page.wait_for_selector("[data-testid=audit-diff]")
    diff = page.locator("[data-testid=diff-row][data-field=base_url]")
    assert "http://airflow-old:8080" in diff.inner_text() and "http://airflow:8080" in diff.inner_text()
    assert audit.MASK in page.locator("[data-testid=diff-row][data-field=password]").inner_text()
    assert SECRET not in page.content()
    assert page.locator("[data-testid=audit-revert]").count() == 1
    screenshot(page, "audit-diff")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "audit-diff-phone")
    assert problems == []
