"""The Tasks screens through the test client: form errors, preview JSON, task page, run now, audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy_continuum import version_class

from console.extensions import db
from console.models import Task, TaskRun, Transaction
from console.services import fires, servers, tasks
from tests import static_dns
from tests.conftest import Auth
from tests.fakes import FakeAirflow, Reply

UNREACHABLE = "http://127.0.0.1:9"  # connection refused at once: "the server cannot say now"


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhook hosts are resolved when a task is saved: answer from a static table, never DNS."""
    static_dns.install(monkeypatch)


def server_id(app: Flask) -> int:
    with app.app_context():
        server = servers.register_server(name="offline", base_url=UNREACHABLE, username="u", secret="p")
        db.session.commit()
        return server.id


def form_data(sid: int, **overrides: Any) -> dict[str, Any]:
    data = {
        "name": "nightly export",
        "description": "exports the day",
        "server_id": str(sid),
        "dag_id": "example_quick",
        "conf_json": '{"day": "today"}',
        "cron": "0 5 * * 1-5",
        "timezone": "Europe/Berlin",
        "enabled": "y",
        "misfire_policy": "run_once",
        "retry_window_seconds": "600",
        "retry_backoff_seconds": "5",
        "alert_emails": "oncall@example.com; data@example.com",
        "alert_webhook_url": "https://hooks.example.com/T000/B000",
    }
    data.update(overrides)
    return data


def test_create_through_the_form_is_audited_as_the_operator(app: Flask, login_as: Auth) -> None:
    sid = server_id(app)
    login_as("operator")
    response = login_as.post("/admin/tasks/new/", form_data(sid))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with app.app_context():
        task = db.session.scalars(sa.select(Task)).one()
        assert (task.cron, task.timezone, task.misfire_policy) == ("0 5 * * 1-5", "Europe/Berlin", "run_once")
        assert task.alert_emails == "oncall@example.com, data@example.com"
        assert task.conf_json == '{\n  "day": "today"\n}'
        version = db.session.scalars(sa.select(version_class(Task))).one()
        transaction = db.session.get(Transaction, version.transaction_id)
        assert transaction.actor == "operator@example.com"


def test_invalid_fields_are_form_errors_and_nothing_is_lost(app: Flask, login_as: Auth) -> None:
    sid = server_id(app)
    login_as("operator")
    bad = form_data(
        sid,
        cron="0 25 * * *",
        conf_json="{not json",
        timezone="Mars/Olympus",
        alert_emails="oncall@",
        alert_webhook_url="ftp://example.com/hook",
    )
    response = login_as.post("/admin/tasks/new/", bad)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for message in (
        "Hour: 25 is outside 0-23.",
        "Not valid JSON",
        "Unknown time zone",
        "is not a valid email address",
        "The webhook must be an http:// or https:// URL.",
    ):
        assert message in page, message
    assert 'value="nightly export"' in page and "{not json" in page  # what was typed is still there
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0


@pytest.mark.parametrize(
    "conf", ["[" * 100_000 + "]" * 100_000, '{"a": ' * 40 + "1" + "}" * 40], ids=["100000-deep", "40-objects"]
)
def test_a_deeply_nested_conf_is_a_form_error_not_a_500(app: Flask, login_as: Auth, conf: str) -> None:
    sid = server_id(app)
    login_as("operator")
    response = login_as.post("/admin/tasks/new/", form_data(sid, conf_json=conf))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "the limit is 100,000" in page or "nested more than 32 levels" in page
    assert conf[:50].replace('"', "&#34;") in page  # what was typed is still there
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0


def test_an_invalid_cron_on_edit_keeps_the_saved_task(app: Flask, login_as: Auth) -> None:
    sid = server_id(app)
    login_as("operator")
    login_as.post("/admin/tasks/new/", form_data(sid))
    with app.app_context():
        task_id = db.session.scalar(sa.select(Task.id))
    response = login_as.post(f"/admin/tasks/edit/?id={task_id}", form_data(sid, cron="every day"))
    assert response.status_code == 200
    assert "5 fields (minute hour day month weekday)" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Task, task_id).cron == "0 5 * * 1-5"


def test_cron_preview_json(app: Flask, login_as: Auth) -> None:
    client = login_as("viewer")
    ok = client.get("/admin/tasks/cron_preview?cron=0+5+*+*+1-5&timezone=Europe/Berlin").get_json()
    assert ok["ok"] is True and ok["description"] == "At 05:00, Monday through Friday"
    assert len(ok["next"]) == 5 and all(" 05:00 CE" in f["text"] for f in ok["next"])
    bad = client.get("/admin/tasks/cron_preview?cron=61+*+*+*+*").get_json()
    assert bad == {"ok": False, "error": "Minute: 61 is outside 0-59.", "description": "", "next": []}


def test_dag_choices_explain_an_unreachable_server(app: Flask, login_as: Auth) -> None:
    sid = server_id(app)
    client = login_as("viewer")
    answer = client.get(f"/admin/tasks/dag_choices?server_id={sid}").get_json()
    assert answer["ok"] is False and "connection refused" in answer["error"]
    assert client.get("/admin/tasks/dag_choices").get_json()["error"] == "Choose an Airflow server."


def test_fake_airflow_of_a_disabled_server_is_not_asked_for_dag_choices(
    app: Flask, login_as: Auth, start_fake: Callable[[FakeAirflow], FakeAirflow]
) -> None:
    fake = start_fake(FakeAirflow(Reply(500), tokens=False))
    with app.app_context():
        server = servers.register_server(name="off", base_url=fake.url, username="u", secret="p", enabled=False)
        db.session.commit()
        sid = server.id
    client = login_as("viewer")
    for query in (f"server_id={sid}", f"server_id={sid}&dag_id=example_quick"):
        answer = client.get(f"/admin/tasks/dag_choices?{query}").get_json()
        assert answer == {"ok": False, "error": "The server 'off' is disabled.", "dags": []}
    assert fake.seen == []


def add_runs(app: Flask, task_id: int) -> None:
    with app.app_context():
        states = ["success", "success", "failed", "success", "missed"]
        for minute, state in enumerate(states):
            fires.record_fires([fires.Fire(task_id, datetime(2026, 6, 1, 5, minute), state="missed")])
            db.session.flush()
            run = db.session.scalars(sa.select(TaskRun).order_by(TaskRun.id.desc())).first()
            run.state = state
            run.attempts = 1
            if state == "failed":
                run.error = "the DAG run failed in Airflow"
        db.session.commit()


def test_task_page_shows_history_success_rate_and_run_now_for_operators(app: Flask, login_as: Auth) -> None:
    sid = server_id(app)
    login_as("operator")
    login_as.post("/admin/tasks/new/", form_data(sid))
    with app.app_context():
        task_id = db.session.scalar(sa.select(Task.id))
    add_runs(app, task_id)
    page = login_as.client.get(f"/admin/tasks/details/?id={task_id}").get_data(as_text=True)
    assert 'data-testid="success-rate">75%' in page
    assert "3 succeeded, 1 failed of the last 4 finished runs" in page
    assert "__2026-06-01T05:02:00Z</code>" in page
    assert "the DAG run failed in Airflow" in page
    assert 'data-testid="run-now"' in page
    listing = login_as.client.get("/admin/tasks/").get_data(as_text=True)
    assert "At 05:00, Monday through Friday" in listing
    assert 'data-state="success"' in listing  # the last run that was not a missed fire
    assert "__2026-06-01T05:03:00Z</code>" in listing


def test_viewers_see_no_run_now_and_may_not_post_it(app_factory: Any) -> None:
    app = app_factory(WTF_CSRF_ENABLED=False)
    sid = server_id(app)
    with app.app_context():
        task = tasks.create_task(form_data(sid) | {"enabled": True}, check_dag=False)
        db.session.commit()
        task_id = task.id
    client = app.test_client()
    Auth(app, client)("viewer")
    assert 'data-testid="run-now"' not in client.get(f"/admin/tasks/details/?id={task_id}").get_data(as_text=True)
    assert client.post(f"/admin/tasks/run_now/{task_id}").status_code == 403


def test_run_now_when_airflow_is_down_leaves_a_pending_run_for_the_scheduler(app: Flask, login_as: Auth) -> None:
    sid = server_id(app)
    login_as("operator")
    login_as.post("/admin/tasks/new/", form_data(sid))
    with app.app_context():
        task_id = db.session.scalar(sa.select(Task.id))
    response = login_as.post(f"/admin/tasks/run_now/{task_id}", follow_redirects=True)
    assert "Not triggered yet; the scheduler retries it." in response.get_data(as_text=True)
    with app.app_context():
        run = db.session.scalars(sa.select(TaskRun)).one()
        assert (run.kind, run.state, run.attempts) == ("manual", "pending", 1)
        assert "connection refused" in (run.error or "")


@pytest.mark.parametrize(("action", "enabled"), [("disable", False), ("enable", True)])
def test_enable_and_disable_actions(app: Flask, login_as: Auth, action: str, enabled: bool) -> None:
    sid = server_id(app)
    login_as("operator")
    login_as.post("/admin/tasks/new/", form_data(sid, enabled="" if enabled else "y"))
    with app.app_context():
        task_id = db.session.scalar(sa.select(Task.id))
    response = login_as.post("/admin/tasks/action/", {"action": action, "rowid": str(task_id)})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Task, task_id).enabled is enabled
