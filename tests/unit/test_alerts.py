"""Alert delivery with injected faults: fake SMTP and webhook servers that fail, hang or accept.

Every failure must end up as an ``AlertDelivery`` row with its error, and the
scheduler's monitor must carry on with the next run.
"""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.airflow.client import DagRun
from console.extensions import db
from console.models import AlertDelivery, Task, TaskRun
from console.models.timeutil import utcnow
from console.scheduler import monitor
from console.services import alerts, fires, servers, tasks
from tests.fakes import FakeServer, Reply

# --- a fake SMTP server: enough of RFC 5321 for smtplib --------------------------------------


class FakeSMTP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, refuse: set[str], fail_data: bool) -> None:
        self.refuse, self.fail_data = refuse, fail_data
        self.messages: list[tuple[list[str], str]] = []
        super().__init__(("127.0.0.1", 0), SMTPHandler)


class SMTPHandler(socketserver.StreamRequestHandler):
    server: FakeSMTP

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 fake ESMTP")
        recipients: list[str] = []
        while line := self.rfile.readline().decode().strip():
            verb = line.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 fake")
            elif verb == "MAIL":
                self.reply("250 OK")
            elif verb == "RCPT":
                address = line.split("<", 1)[1].rstrip(">")
                if address in self.server.refuse:
                    self.reply("550 5.1.1 no such mailbox")
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 go ahead")
                body = []
                while (data := self.rfile.readline().decode()) not in (".\r\n", ""):
                    body.append(data)
                if self.server.fail_data:
                    self.reply("554 5.7.1 rejected as spam")
                else:
                    self.server.messages.append((recipients, "".join(body)))
                    self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 OK")


@pytest.fixture
def smtp_factory() -> Iterator[Callable[..., FakeSMTP]]:
    started: list[FakeSMTP] = []

    def start(refuse: set[str] | None = None, fail_data: bool = False) -> FakeSMTP:
        server = FakeSMTP(refuse or set(), fail_data)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


# --- a fake webhook ---------------------------------------------------------------------


@pytest.fixture
def webhook_factory(start_fake: Callable[[FakeServer], FakeServer]) -> Callable[..., FakeServer]:
    """Start a fake webhook answering ``status`` after ``delay`` seconds; its URL ends in ``/hook``."""
    return lambda status=200, delay=0.0: start_fake(FakeServer(Reply(status, body=b"ok", delay=delay)))


def hook_url(hook: FakeServer) -> str:
    return f"{hook.url}/hook"


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def app_factory(app_factory: Callable[..., Flask]) -> Callable[..., Flask]:
    """The fake webhooks listen on 127.0.0.1, which an admin must allow-list for webhooks."""

    def make(**overrides: Any) -> Flask:
        return app_factory(**{"WEBHOOK_ALLOWED_HOSTS": ["127.0.0.1"], **overrides})

    return make


def failed_run(app: Flask, *, emails: str = "", webhook: str = "", name: str = "alerting") -> int:
    with app.app_context():
        server = servers.register_server(name="alerts", base_url="http://127.0.0.1:9", username="u", secret="p")
        db.session.flush()
        task = tasks.create_task(
            {
                "name": name,
                "server_id": server.id,
                "dag_id": "example_fails",
                "cron": "0 * * * *",
                "alert_emails": emails,
                "alert_webhook_url": webhook,
            },
            check_dag=False,
        )
        db.session.flush()
        fires.record_fires([fires.Fire(task.id, datetime(2026, 6, 1, 10, 0))])
        run = db.session.scalars(sa.select(TaskRun).where(TaskRun.task_id == task.id)).one()
        run.attempts, run.state, run.finished_at = 1, "failed", utcnow()
        run.error = "the DAG run failed in Airflow"
        db.session.commit()
        return run.id


def deliveries(run_id: int) -> list[tuple[str, str, bool, str | None]]:
    rows = db.session.scalars(sa.select(AlertDelivery).where(AlertDelivery.task_run_id == run_id).order_by("id"))
    return [(d.channel, d.target, d.succeeded, d.error) for d in rows]


# --- the tests -------------------------------------------------------------------------------


def test_fake_smtp_and_webhook_accept_and_are_recorded(
    app_factory: Any, smtp_factory: Callable[..., FakeSMTP], webhook_factory: Callable[..., FakeServer]
) -> None:
    smtp, hook = smtp_factory(), webhook_factory(200)
    app = app_factory(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.server_address[1])
    run_id = failed_run(app, emails="oncall@example.com, data@example.com", webhook=hook_url(hook))
    with app.app_context():
        assert alerts.send_pending_alerts() == 1
        assert deliveries(run_id) == [
            ("email", "oncall@example.com", True, None),
            ("email", "data@example.com", True, None),
            ("webhook", "http://127.0.0.1/…", True, None),
        ]
        assert alerts.send_pending_alerts() == 0  # alerted once, not again
    recipients, body = smtp.messages[0]
    assert recipients == ["oncall@example.com", "data@example.com"]
    assert "Task 'alerting' failed" in body and "the DAG run failed in Airflow" in body
    payload = json.loads(hook.seen[0].body)
    assert payload["text"].startswith("[Airflow Console] Task 'alerting' failed")
    assert payload["blocks"][0]["type"] == "section"


def test_fake_smtp_refusing_a_recipient_and_a_failing_webhook_are_recorded(
    app_factory: Any, smtp_factory: Callable[..., FakeSMTP], webhook_factory: Callable[..., FakeServer]
) -> None:
    smtp, hook = smtp_factory(refuse={"gone@example.com"}), webhook_factory(500)
    app = app_factory(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.server_address[1])
    run_id = failed_run(app, emails="oncall@example.com, gone@example.com", webhook=hook_url(hook))
    with app.app_context():
        alerts.send_pending_alerts()
        got = deliveries(run_id)
    assert got[0] == ("email", "oncall@example.com", True, None)
    assert got[1][:3] == ("email", "gone@example.com", False) and "no such mailbox" in (got[1][3] or "")
    assert got[2] == ("webhook", "http://127.0.0.1/…", False, "the webhook answered 500 Internal Server Error")


def test_fake_smtp_rejecting_the_message_and_a_hanging_webhook_time_out(
    app_factory: Any, smtp_factory: Callable[..., FakeSMTP], webhook_factory: Callable[..., FakeServer]
) -> None:
    smtp, hook = smtp_factory(fail_data=True), webhook_factory(200, delay=10)
    app = app_factory(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.server_address[1], ALERT_TIMEOUT_SECONDS=0.5)
    run_id = failed_run(app, emails="oncall@example.com", webhook=hook_url(hook))
    with app.app_context():
        alerts.send_pending_alerts()
        (email, webhook) = deliveries(run_id)
    assert email[:3] == ("email", "oncall@example.com", False) and "rejected as spam" in (email[3] or "")
    assert webhook[:3] == ("webhook", "http://127.0.0.1/…", False) and "timed out" in (webhook[3] or "")


def test_fake_unreachable_smtp_and_no_smtp_host_are_recorded(app_factory: Any) -> None:
    app = app_factory(SMTP_HOST="127.0.0.1", SMTP_PORT=9, ALERT_TIMEOUT_SECONDS=1.0)
    run_id = failed_run(app, emails="oncall@example.com", webhook="http://127.0.0.1:9/hook")
    with app.app_context():
        alerts.send_pending_alerts()
        got = deliveries(run_id)
    assert [(c, ok) for c, _t, ok, _e in got] == [("email", False), ("webhook", False)]
    assert "Connection refused" in (got[0][3] or "") and "Connection refused" in (got[1][3] or "")
    no_smtp = app_factory()
    other = failed_run(no_smtp, emails="oncall@example.com", name="no smtp")
    with no_smtp.app_context():
        alerts.send_pending_alerts()
        assert deliveries(other) == [("email", "oncall@example.com", False, alerts.NO_SMTP)]


class FinishedClient:
    """A fake Airflow whose runs have all finished: ``example_fails`` failed, anything else succeeded."""

    def get_dag_run(self, dag_id: str, run_id: str) -> DagRun:
        state = "failed" if dag_id == "example_fails" else "success"
        start = datetime.now(UTC) - timedelta(seconds=5)
        return DagRun(
            dag_id=dag_id,
            run_id=run_id,
            state=state,
            run_type="manual",
            logical_date=None,
            run_after=start,
            queued_at=start,
            start_date=start,
            end_date=start + timedelta(seconds=3),
            duration=3.0,
            note=None,
            conf={},
            triggered_by=None,
            triggering_user_name=None,
            dag_display_name=dag_id,
        )


def test_fake_webhook_failing_does_not_stop_the_monitor(
    app_factory: Any, webhook_factory: Callable[..., FakeServer]
) -> None:
    hook = webhook_factory(503)
    app = app_factory()
    with app.app_context():
        server = servers.register_server(name="mon", base_url="http://127.0.0.1:9", username="u", secret="p")
        db.session.flush()
        made = {}
        for name, dag in (("fails", "example_fails"), ("works", "example_quick")):
            task = tasks.create_task(
                {
                    "name": name,
                    "server_id": server.id,
                    "dag_id": dag,
                    "cron": "0 * * * *",
                    "alert_webhook_url": hook_url(hook),
                },
                check_dag=False,
            )
            db.session.flush()
            fires.record_fires([fires.Fire(task.id, datetime(2026, 6, 1, 10, 0))])
            made[name] = task.id
        db.session.execute(sa.update(TaskRun).values(state="triggered", triggered_at=utcnow(), next_attempt_at=None))
        db.session.commit()
        monitor.monitor_pass(client_for=lambda server: FinishedClient())  # type: ignore[arg-type,return-value]
        states = dict(db.session.execute(sa.select(Task.name, TaskRun.state).join(Task)).all())
        assert states == {"fails": "failed", "works": "success"}
        rows = db.session.scalars(sa.select(AlertDelivery)).all()
        assert [(r.channel, r.succeeded, r.error) for r in rows] == [
            ("webhook", False, "the webhook answered 503 Service Unavailable")
        ]
        done = db.session.scalars(sa.select(TaskRun).join(Task).where(Task.name == "works")).one()
        assert (done.dag_run_state, done.duration_seconds) == ("success", 3.0)
