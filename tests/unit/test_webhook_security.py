"""Alert webhooks: no internal destinations (SSRF) at save or at send, no redirects, and the URL
treated as a secret (encrypted, kept out of the history and logs, masked for all but admins)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy_continuum import version_class

from console.extensions import db
from console.models import AlertDelivery, Task, TaskRun
from console.models.timeutil import utcnow
from console.security.secrets import decrypt
from console.services import alerts, fires, servers, tasks, webhooks
from tests import static_dns
from tests.conftest import Auth
from tests.fakes import FakeServer, Reply

TOKEN = "xoxb-SECRET-T0KEN-42"
HOOK = f"https://hooks.example.com/services/T000/B000/{TOKEN}"
LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "127.1",
    "localhost",
    "loop.example.net",
    "[::ffff:127.0.0.1]",
    "0.0.0.0",
]
INTERNAL_HOSTS = [*LOOPBACK_SPELLINGS, "[::1]", "169.254.169.254", "[fd00:ec2::254]", "10.0.0.1", "100.64.0.1"]


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    return static_dns.install(monkeypatch, {"loop.example.net": ["127.0.0.1"]})


# --- a local listener ----------------------------------------------------------------------


@pytest.fixture
def listen(start_fake: Callable[[FakeServer], FakeServer]) -> Callable[..., FakeServer]:
    """Start a listener answering ``status``, with a ``Location`` header if given."""

    def start(status: int = 200, location: str | None = None) -> FakeServer:
        return start_fake(FakeServer(Reply(status, body=b"", headers={"Location": location} if location else {})))

    return start


def requests(listener: FakeServer) -> list[tuple[str, str, str]]:
    """(method, path, Host header) of every request the listener received."""
    return [(seen.method, seen.path, seen.headers.get("host", "")) for seen in listener.seen]


# --- helpers -------------------------------------------------------------------------------


def make_task(app: Flask, webhook: str, name: str = "alerting") -> int:
    with app.app_context():
        server = db.session.scalars(sa.select(servers.AirflowServer)).first() or servers.register_server(
            name="offline", base_url="http://127.0.0.1:9", username="u", secret="p"
        )
        db.session.flush()
        task = tasks.create_task(
            {"name": name, "server_id": server.id, "dag_id": "example_fails", "cron": "0 * * * *"}
            | {"alert_webhook_url": webhook},
            check_dag=False,
        )
        db.session.commit()
        return int(task.id)


def fail_a_run(app: Flask, task_id: int) -> int:
    with app.app_context():
        fires.record_fires([fires.Fire(task_id, datetime(2026, 6, 1, 10, 0))])
        run = db.session.scalars(sa.select(TaskRun).where(TaskRun.task_id == task_id)).one()
        run.attempts, run.state, run.finished_at = 1, "failed", utcnow()
        db.session.commit()
        return int(run.id)


def webhook_deliveries(app: Flask) -> list[tuple[str, bool, str | None]]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AlertDelivery).where(AlertDelivery.channel == "webhook"))
        return [(d.target, d.succeeded, d.error) for d in rows]


def task_form(sid: int, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "nightly export",
        "server_id": str(sid),
        "dag_id": "example_quick",
        "conf_json": "{}",
        "cron": "0 5 * * *",
        "timezone": "UTC",
        "enabled": "y",
        "misfire_policy": "skip",
        "retry_window_seconds": "600",
        "retry_backoff_seconds": "5",
        "alert_emails": "",
        "alert_webhook_url": HOOK,
    } | overrides


def offline_server(app: Flask) -> int:
    with app.app_context():
        server = servers.register_server(name="offline", base_url="http://127.0.0.1:9", username="u", secret="p")
        db.session.commit()
        return int(server.id)


# --- SSRF: refused when saved ----------------------------------------------------------------


@pytest.mark.parametrize("host", INTERNAL_HOSTS)
def test_an_internal_webhook_is_a_form_error_and_the_input_is_kept(app: Flask, login_as: Auth, host: str) -> None:
    sid = offline_server(app)
    login_as("operator")
    url = f"http://{host}:8080/hook"
    response = login_as.post("/admin/tasks/new/", task_form(sid, alert_webhook_url=url))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The webhook is refused:" in page and "internal address" in page
    assert f'value="{url}"' in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0


def test_the_service_refuses_an_internal_webhook_for_every_caller(app: Flask) -> None:
    sid = offline_server(app)
    with app.app_context(), pytest.raises(tasks.TaskValidationError, match="internal address"):
        tasks.create_task(
            {"name": "x", "server_id": sid, "dag_id": "d", "cron": "0 * * * *"}
            | {"alert_webhook_url": "http://169.254.169.254/latest/meta-data/"},
            check_dag=False,
        )


# --- SSRF: refused when sent -----------------------------------------------------------------


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_fake_listener_receives_nothing_from_an_internal_webhook_at_send_time(
    app_factory: Callable[..., Flask], listen: Callable[..., FakeServer], host: str
) -> None:
    """Saved while an admin allowed loopback, the allowance is withdrawn: the alert is refused."""
    hook = listen()
    saver = app_factory(WEBHOOK_ALLOWED_HOSTS=["127.0.0.0/8", "::/0", "0.0.0.0/32", "localhost", "loop.example.net"])
    task_id = make_task(saver, f"http://{host}:{hook.port}/hook")
    fail_a_run(saver, task_id)
    sender = app_factory()
    with sender.app_context():
        assert alerts.send_pending_alerts() == 1
    ((target, succeeded, error),) = webhook_deliveries(sender)
    assert (target, succeeded) == (f"http://{host}/…", False)
    assert error is not None and error.startswith("refused: ") and "internal address" in error
    assert requests(hook) == []


def test_fake_listener_receives_nothing_when_the_name_resolves_inside_after_saving(
    app: Flask, listen: Callable[..., FakeServer], dns: dict[str, list[str]]
) -> None:
    hook = listen()
    task_id = make_task(app, f"http://hooks.example.com:{hook.port}/hook/{TOKEN}")  # public when saved
    fail_a_run(app, task_id)
    dns["hooks.example.com"] = ["127.0.0.1"]  # then the name moves to loopback
    with app.app_context():
        alerts.send_pending_alerts()
    ((target, succeeded, error),) = webhook_deliveries(app)
    assert (target, succeeded) == ("http://hooks.example.com/…", False) and "loopback" in (error or "")
    assert requests(hook) == []


def test_fake_allow_listed_listener_gets_the_post_and_its_redirect_is_not_followed(
    app_factory: Callable[..., Flask], listen: Callable[..., FakeServer]
) -> None:
    elsewhere = listen()
    hook = listen(302, location=f"http://127.0.0.1:{elsewhere.port}/stolen")
    app = app_factory(WEBHOOK_ALLOWED_HOSTS=["127.0.0.1"])
    task_id = make_task(app, f"http://127.0.0.1:{hook.port}/hook")
    fail_a_run(app, task_id)
    with app.app_context():
        alerts.send_pending_alerts()
    assert [r[:2] for r in requests(hook)] == [("POST", "/hook")]
    assert requests(elsewhere) == []
    assert webhook_deliveries(app) == [
        ("http://127.0.0.1/…", False, "the webhook answered 302 Found (redirects are not followed)")
    ]


def test_fake_listener_is_posted_at_the_checked_address_even_if_dns_then_changes(
    app_factory: Callable[..., Flask], listen: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolved once and pinned: a second answer (127.0.0.2, not allowed) is never used."""
    hook = listen()
    answers = iter(["127.0.0.1"])
    numeric = socket.getaddrinfo

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "flip.example.net":  # the pinned address itself
            return numeric(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers, "127.0.0.2"), int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    app = app_factory(WEBHOOK_ALLOWED_HOSTS=["127.0.0.1/32"])
    with app.app_context():
        error = alerts.send_webhook(f"http://flip.example.net:{hook.port}/hook", alerts.Alert("s", "t", "l"))
    assert error is None
    assert requests(hook) == [("POST", "/hook", f"flip.example.net:{hook.port}")]


# --- the URL is a secret ---------------------------------------------------------------------


def test_the_webhook_is_stored_encrypted_and_kept_out_of_the_history(app: Flask, login_as: Auth) -> None:
    sid = offline_server(app)
    login_as("operator")
    assert login_as.post("/admin/tasks/new/", task_form(sid)).status_code == 302
    TaskVersion = version_class(Task)
    assert "alert_webhook_ciphertext" not in TaskVersion.__table__.c
    with app.app_context():
        task = db.session.scalars(sa.select(Task)).one()
        assert TOKEN not in task.alert_webhook_ciphertext and decrypt(task.alert_webhook_ciphertext) == HOOK
        history = db.session.execute(sa.text("SELECT * FROM task_version")).all()
        assert len(history) == 1 and TOKEN not in repr(history)
        assert db.session.scalars(sa.select(TaskVersion)).one().alert_webhook_changed_at is not None


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_nobody_sees_the_webhook_in_full(app: Flask, login_as: Auth, role: str) -> None:
    # Admins included: a stored secret is never rendered (issue #10's planted-secret sweep).
    task_id = make_task(app, HOOK)
    client = login_as(role)
    page = client.get(f"/admin/tasks/details/?id={task_id}").get_data(as_text=True)
    assert TOKEN not in page
    assert "https://hooks.example.com/…" in page
    if role != "viewer":  # the edit form is write-only for everyone who may edit
        form = client.get(f"/admin/tasks/edit/?id={task_id}").get_data(as_text=True)
        assert TOKEN not in form and "Set: https://hooks.example.com/…" in form


def test_an_empty_webhook_on_edit_keeps_it_and_remove_clears_it(app: Flask, login_as: Auth) -> None:
    sid = offline_server(app)
    login_as("operator")
    login_as.post("/admin/tasks/new/", task_form(sid))
    with app.app_context():
        task_id = db.session.scalar(sa.select(Task.id))
    response = login_as.post(f"/admin/tasks/edit/?id={task_id}", task_form(sid, alert_webhook_url="", cron="0 6 * * *"))
    assert response.status_code == 302
    with app.app_context():
        task = db.session.get(Task, task_id)
        assert (task.cron, webhooks.webhook_url(task)) == ("0 6 * * *", HOOK)
    login_as.post(f"/admin/tasks/edit/?id={task_id}", task_form(sid, alert_webhook_url="", remove_webhook="y"))
    with app.app_context():
        assert db.session.get(Task, task_id).alert_webhook_ciphertext == ""


def test_fake_failing_webhook_is_recorded_and_logged_without_its_token(
    app_factory: Callable[..., Flask], listen: Callable[..., FakeServer], caplog: pytest.LogCaptureFixture
) -> None:
    hook = listen(500)
    app = app_factory(WEBHOOK_ALLOWED_HOSTS=["127.0.0.1"])
    fail_a_run(app, make_task(app, f"http://127.0.0.1:{hook.port}/hook/{TOKEN}"))
    with caplog.at_level(logging.DEBUG), app.app_context():
        alerts.send_pending_alerts()
    assert webhook_deliveries(app) == [("http://127.0.0.1/…", False, "the webhook answered 500 Internal Server Error")]
    assert "http://127.0.0.1/…" in caplog.text and TOKEN not in caplog.text
