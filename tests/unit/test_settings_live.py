"""Settings take effect without a restart: a change saved by one web worker is read by another
app on the same database, and by the scheduler process; the test alert goes through a local
SMTP server and a local webhook receiver, and a bad SMTP host is reported clearly."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from console.scheduler.process import SchedulerProcess
from console.services import alerts, settings
from tests import static_dns
from tests.conftest import csrf_token
from tests.fakes import FakeServer, Reply
from tests.unit.test_alerts import FakeSMTP
from tests.unit.test_settings import admin_client as admin
from tests.unit.test_settings import post as save

PAGE = "/admin/settings/"


@pytest.fixture
def smtp() -> Iterator[FakeSMTP]:
    """A local SMTP server (``tests.unit.test_alerts.FakeSMTP``), stopped after the test."""
    server = FakeSMTP(set(), False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def flashes(client: Any) -> str:
    return client.get(PAGE).get_data(as_text=True)


def test_a_change_in_one_worker_is_read_by_another_without_restart(app_factory: Callable[..., Flask]) -> None:
    one, two = app_factory(), app_factory()  # two web workers on one SQLite file
    first, second = admin(one), admin(two)
    form = second.get("/admin/tasks/new/").get_data(as_text=True)
    assert re.search(r'<option selected value="UTC">|<option value="UTC" selected', form)
    assert second.get(PAGE).status_code == 200
    assert two.permanent_session_lifetime.total_seconds() == 12 * 3600

    assert save(first, {"default_timezone": "Europe/Paris", "session_lifetime_seconds": "3600"}).status_code == 302

    form = second.get("/admin/tasks/new/").get_data(as_text=True)
    assert re.search(r'<option selected value="Europe/Paris">|<option value="Europe/Paris" selected', form)
    assert two.permanent_session_lifetime.total_seconds() == 3600  # Flask's own reader, via the session
    with two.test_request_context():
        from console.services import read_cache

        assert read_cache.lifetime("runs") == 10
    assert save(first, {"cache_seconds_runs": "0"}).status_code == 302
    with two.test_request_context():
        assert read_cache.lifetime("runs") == 0


def test_the_scheduler_process_reads_a_change_on_its_next_tick(
    app_factory: Callable[..., Flask], smtp: FakeSMTP
) -> None:
    web, scheduler_app = app_factory(), app_factory()
    scheduler = SchedulerProcess(scheduler_app, instance_id="settings-test")
    with scheduler_app.app_context():  # one long-lived context, as in ``SchedulerProcess.run``
        assert settings.value("smtp_host") is None
        assert alerts.send_test_alert("oncall@example.com") == []
        with web.app_context():
            settings.save({"smtp_host": "127.0.0.1", "smtp_port": str(smtp.server_address[1])})
        scheduler.tick()
        assert settings.value("smtp_port") == smtp.server_address[1]
        assert alerts.send_test_alert("oncall@example.com") == [("email", "oncall@example.com", None)]
    assert [recipients for recipients, _body in smtp.messages] == [["oncall@example.com"]]


def test_send_test_alert_goes_through_smtp_and_the_default_webhook(
    app: Flask, smtp: FakeSMTP, start_fake: Callable[[FakeServer], FakeServer]
) -> None:
    hook = start_fake(FakeServer(Reply(200, body=b"ok")))
    client = admin(app)
    saved = save(
        client,
        {
            "smtp_host": "127.0.0.1",
            "smtp_port": str(smtp.server_address[1]),
            "smtp_from": "console@example.com",
            "webhook_allowed_hosts": "127.0.0.1",
            "alert_default_webhook": f"{hook.url}/hook/T0K3N",
        },
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    sent = client.post(PAGE + "test-alert", data={"csrf_token": csrf_token(client, PAGE)})
    assert sent.status_code == 302
    page = flashes(client)
    assert "Test alert sent: email to admin@example.com was accepted." in page
    assert "Test alert sent: webhook to http://127.0.0.1/… was accepted." in page
    assert "T0K3N" not in page
    [(recipients, body)] = smtp.messages
    assert recipients == ["admin@example.com"] and "From: console@example.com" in body
    [seen] = hook.calls("POST", "/hook/T0K3N")
    assert "Test alert" in json.loads(seen.body)["text"]


def test_a_bad_smtp_host_and_a_failing_webhook_are_reported_clearly(
    app: Flask, monkeypatch: pytest.MonkeyPatch, start_fake: Callable[[FakeServer], FakeServer]
) -> None:
    static_dns.install(monkeypatch)  # no DNS server is asked: unknown names fail at once
    hook = start_fake(FakeServer(Reply(500, body=b"no")))
    client = admin(app)
    save(
        client,
        {
            "smtp_host": "no-such-mail-host.invalid",
            "webhook_allowed_hosts": "127.0.0.1",
            "alert_default_webhook": f"{hook.url}/hook",
        },
    )
    client.post(PAGE + "test-alert", data={"csrf_token": csrf_token(client, PAGE)})
    page = flashes(client)
    assert (
        "Test alert failed: email to admin@example.com: cannot find the SMTP host &#39;no-such-mail-host.invalid&#39;"
        in page
    )
    assert "Test alert failed: webhook to http://127.0.0.1/…: the webhook answered 500" in page


def test_without_any_channel_the_test_alert_says_what_to_set(app: Flask) -> None:
    client = admin(app)
    client.post(PAGE + "test-alert", data={"csrf_token": csrf_token(client, PAGE)})
    assert "No alert channel is configured" in flashes(client)


def test_the_default_webhook_receives_alerts_of_tasks_without_their_own(
    app_factory: Callable[..., Flask], start_fake: Callable[[FakeServer], FakeServer]
) -> None:
    from tests.unit.test_alerts import deliveries, failed_run

    hook = start_fake(FakeServer(Reply(200, body=b"ok")))
    app = app_factory(WEBHOOK_ALLOWED_HOSTS=["127.0.0.1"])
    run_id = failed_run(app)  # no emails, no webhook of its own
    with app.app_context():
        assert alerts.send_pending_alerts() == 0
        settings.save({"alert_default_webhook": f"{hook.url}/default"})
        assert alerts.send_pending_alerts() == 1
        assert deliveries(run_id) == [("webhook", "http://127.0.0.1/…", True, None)]
    assert len(hook.calls("POST", "/default")) == 1
