"""Planted secrets appear nowhere: not in any page an admin can open, not in any audit event,
version or transaction row, not in any log line.

Each secret is planted the way a person sets it (a form) or, for a value whose form another
screen owns, the way its code records it (``record_event`` with ``secret_keys``). To plant
another secret, add one line to ``PLANTED``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.routing import Rule

from console.extensions import db
from console.models import AirflowServer, AuditEvent, Task, User
from console.services import audit
from tests import static_dns
from tests.conftest import Auth
from tests.unit.test_access_matrix import build_url
from tests.unit.test_servers_admin import create_form
from tests.unit.test_tasks_screens import form_data

ADMIN = "admin@example.com"
Planter = Callable[[Flask, Auth, str], None]


def server_password(app: Flask, login_as: Auth, secret: str) -> None:
    assert login_as.post("/admin/servers/new/", create_form(name="planted", secret=secret)).status_code == 302
    with app.app_context():
        server_id = db.session.scalar(sa.select(AirflowServer.id).where(AirflowServer.name == "planted"))
    edit = create_form(name="planted", username="rotated", secret=secret + "-2")
    assert login_as.post(f"/admin/servers/edit/?id={server_id}", edit).status_code == 302


def webhook_token(app: Flask, login_as: Auth, secret: str) -> None:
    with app.app_context():
        server_id = db.session.scalar(sa.select(AirflowServer.id).where(AirflowServer.name == "planted"))
    url = f"https://hooks.example.com/T000/{secret}"
    data = form_data(server_id, name="planted task", alert_webhook_url=url)
    assert login_as.post("/admin/tasks/new/", data).status_code == 302
    with app.app_context():
        task_id = db.session.scalar(sa.select(Task.id).where(Task.name == "planted task"))
    edit = form_data(server_id, name="planted task", alert_webhook_url=url + "-2", cron="0 7 * * *")
    assert login_as.post(f"/admin/tasks/edit/?id={task_id}", edit).status_code == 302


def recorded_secret(key: str) -> Planter:
    """A secret another screen records through ``record_event`` (SMTP password, connection password...)."""

    def plant(app: Flask, login_as: Auth, secret: str) -> None:
        with app.app_context():
            audit.record_event(
                "setting.update", actor=ADMIN, before={key: "old"}, after={key: secret}, secret_keys=[key]
            )
            db.session.commit()

    return plant


def setting(name: str) -> Planter:
    """A secret typed into the settings page (twice, so the history has a change of it)."""

    def plant(app: Flask, login_as: Auth, secret: str) -> None:
        for value in (secret, secret + "-2"):
            if name == "alert_default_webhook":
                value = f"https://hooks.example.com/T000/{value}"
            assert login_as.post("/admin/settings/", {name: value}).status_code == 302

    return plant


def user_password(app: Flask, login_as: Auth, secret: str) -> None:
    data = {"email": "planted@example.com", "roles": ["1"], "active": "y", "new_password": secret}
    assert login_as.post("/admin/users/new/", data).status_code == 302


#: name -> (the plaintext, how it is planted). One line per planted secret.
PLANTED: dict[str, tuple[str, Planter]] = {
    "server password": ("planted-server-pw-7f3a9c", server_password),
    "task webhook token": ("planted-webhook-token-91c2e4", webhook_token),
    "SMTP password": ("planted-smtp-pw-55d0b1", recorded_secret("smtp_password")),
    "user password": ("planted-user-pw-a8e613", user_password),
    "settings SMTP password": ("planted-settings-smtp-3e9d70", setting("smtp_password")),
    "settings default webhook token": ("planted-default-hook-6b1f2a", setting("alert_default_webhook")),
}


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    static_dns.install(monkeypatch)


def pages(app: Flask) -> list[str]:
    """Every GET route of the policy (sample arguments), plus each model's detail and edit pages."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or ()) and not rule.endpoint.endswith("static"):
            urls.append(build_url(app, rule))
    with app.app_context():
        for view, model in (("servers", AirflowServer), ("tasks", Task), ("users", User)):
            for row_id in db.session.scalars(sa.select(model.id)):
                urls += [f"/admin/{view}/details/?id={row_id}", f"/admin/{view}/edit/?id={row_id}"]
        # Every audit entry's page and its revert preview, and both exports of the whole trail.
        for event_id in db.session.scalars(sa.select(AuditEvent.id)):
            urls += [f"/admin/audit/{event_id}/", f"/admin/audit/{event_id}/revert"]
    return [*urls, "/admin/audit/export?format=csv", "/admin/audit/export?format=json"]


def stored_rows(app: Flask) -> dict[str, str]:
    """The text of every row of the audit trail: events, versions, transactions."""
    with app.app_context():
        meta = sa.MetaData()
        meta.reflect(bind=db.engine)
        names = ["audit_event", "transaction", *sorted(n for n in meta.tables if n.endswith("_version"))]
        return {name: repr(db.session.execute(sa.select(meta.tables[name])).all()) for name in names}


def test_planted_secrets_appear_nowhere(app: Flask, login_as: Auth, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    login_as("admin")
    for secret, plant in PLANTED.values():
        plant(app, login_as, secret)
    secrets = {name: value for name, (value, _plant) in PLANTED.items()}
    stored = stored_rows(app)
    assert "setting.update" in stored["audit_event"] and "airflow_server.update" in stored["audit_event"]
    assert "task.update" in stored["audit_event"] and "planted task" in stored["task_version"]

    found: list[str] = []
    rendered = 0
    operator = Auth(app, app.test_client())
    operator("operator")
    for url in pages(app):
        for who, client in (("admin", login_as.client), ("operator", operator.client)):
            response = client.get(url)
            body: Any = response.get_data(as_text=True)
            rendered += response.status_code == 200
            for name, value in secrets.items():
                if value in body:
                    found.append(f"{name} in page {url} as {who}")
    for table, text in stored.items():
        found += [f"{name} in table {table}" for name, value in secrets.items() if value in text]
    found += [f"{name} in the log" for name, value in secrets.items() if value in caplog.text]
    assert rendered >= 40
    assert found == []


def test_the_sweep_would_see_a_leak(app: Flask, login_as: Auth, caplog: pytest.LogCaptureFixture) -> None:
    """The sweep's searches are live: a secret recorded in clear is found in the table and the log."""
    caplog.set_level(logging.DEBUG)
    login_as("admin")
    with app.app_context():
        audit.record_event("leak", actor=ADMIN, after={"token": "visible-leak"})
        db.session.commit()
        logging.getLogger("console.test").info("visible-leak")
    assert "visible-leak" in stored_rows(app)["audit_event"] and "visible-leak" in caplog.text
    assert any(rule.endpoint == "admin.index" for rule in app.url_map.iter_rules() if isinstance(rule, Rule))
