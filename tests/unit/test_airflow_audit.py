"""Every action in Airflow leaves exactly one audit row naming the person or the system actor:
the DAG screens (single and bulk), "Run now", and the scheduler's fires, refusals included."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.airflow.errors import AirflowBadRequest, AirflowConflict, AirflowUnavailable
from console.extensions import db
from console.models import AuditEvent, Task, TaskRun
from console.models.timeutil import utcnow
from console.scheduler.dispatch import Lane
from console.services import fires, server_clients, tasks
from tests import static_dns
from tests.conftest import Auth, csrf_token
from tests.unit.test_tasks_fire import FakeClient, make_task
from tests.unit.test_tasks_screens import form_data, server_id

OPERATOR = "operator@example.com"


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The task form's webhook host is resolved on save: answer from a static table, never DNS."""
    static_dns.install(monkeypatch)


class FakeAirflow:
    """The DAG actions of an Airflow client; each call is kept, and a method named in
    ``refuse`` answers 400."""

    def __init__(self, *refuse: str) -> None:
        self.refuse = set(refuse)
        self.calls: list[str] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.refuse:
            raise AirflowBadRequest("fake", f"{name} refused")

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._call("set_paused")

    def trigger_dag_run(self, dag_id: str, **_kwargs: Any) -> Any:
        self._call("trigger_dag_run")
        return SimpleNamespace(run_id=f"manual__{dag_id}")

    def clear_task_instances(self, dag_id: str, **_kwargs: Any) -> list[Any]:
        self._call("clear_task_instances")
        return []

    def set_dag_run_state(self, dag_id: str, run_id: str, state: str) -> None:
        self._call("set_dag_run_state")


def audit_rows(app: Flask) -> list[tuple[Any, ...]]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.category == "airflow").order_by(AuditEvent.id)
        ).all()
        return [(r.actor, r.user.email if r.user else None, r.action, r.dag_id, r.run_id, r.succeeded) for r in rows]


def post_to_fake(login_as: Auth, monkeypatch: pytest.MonkeyPatch, airflow: FakeAirflow, path: str, data: Any) -> Any:
    """POST as the signed-in user with ``airflow`` standing in for every server's client."""
    token = csrf_token(login_as.client, "/admin/")
    with monkeypatch.context() as patch:
        patch.setattr(server_clients, "client_or_failure", lambda server: airflow)
        return login_as.client.post(path, data={**data, "csrf_token": token})


# --- the DAG screens ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data", "expected"),
    [
        ("/example_quick/paused", {"paused": "1"}, ("pause", "example_quick", None)),
        ("/example_quick/paused", {"paused": "0"}, ("unpause", "example_quick", None)),
        ("/example_quick/runs/r1/clear", {"task_id": "boom"}, ("clear", "example_quick", "r1")),
        ("/example_quick/runs/r1/mark", {"state": "failed"}, ("mark failed", "example_quick", "r1")),
    ],
)
def test_each_screen_action_is_one_audit_row_naming_the_operator(
    app: Flask,
    login_as: Auth,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    data: dict[str, str],
    expected: tuple[Any, ...],
) -> None:
    sid = server_id(app)
    login_as("operator")
    response = post_to_fake(login_as, monkeypatch, FakeAirflow(), f"/admin/dags/{sid}{path}", data)
    assert response.status_code == 302
    assert audit_rows(app) == [(OPERATOR, OPERATOR, *expected, True)]


@pytest.mark.parametrize("action", ["trigger", "pause"])
def test_a_bulk_action_is_one_audit_row_per_dag_between_the_jobs_start_and_end(
    app: Flask, login_as: Auth, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    sid = server_id(app)
    login_as("operator")
    keys = [f"{sid}:example_quick", f"{sid}:example_multi", f"{sid}:example_quick"]
    response = post_to_fake(login_as, monkeypatch, FakeAirflow(), "/admin/dags/bulk", {"action": action, "dag": keys})
    assert response.status_code == 302
    run_ids = ["manual__example_quick", "manual__example_multi"] if action == "trigger" else [None, None]
    job = [(OPERATOR, OPERATOR, f"bulk {action} {event}", None, None, True) for event in ("started", "finished")]
    assert audit_rows(app) == [
        job[0],
        *(
            (OPERATOR, OPERATOR, action, dag, run_id, True)
            for dag, run_id in zip(["example_quick", "example_multi"], run_ids, strict=True)
        ),
        job[1],
    ]


def test_a_refused_action_is_audited_with_airflows_reason(
    app: Flask, login_as: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = server_id(app)
    login_as("operator")
    refusing = FakeAirflow("set_dag_run_state")
    post_to_fake(login_as, monkeypatch, refusing, f"/admin/dags/{sid}/example_quick/runs/r1/mark", {"state": "success"})
    assert audit_rows(app) == [(OPERATOR, OPERATOR, "mark success", "example_quick", "r1", False)]
    with app.app_context():
        assert "set_dag_run_state refused" in (
            db.session.scalars(sa.select(AuditEvent.error).where(AuditEvent.category == "airflow")).one() or ""
        )


# --- "Run now" ---------------------------------------------------------------------------------


def test_run_now_is_audited_as_the_person_who_pressed_it(app: Flask, login_as: Auth) -> None:
    sid = server_id(app)  # unreachable: the attempt fails and is left for the scheduler to retry
    login_as("operator")
    login_as.post("/admin/tasks/new/", form_data(sid))
    with app.app_context():
        task_id = db.session.scalar(sa.select(Task.id))
    login_as.post(f"/admin/tasks/run_now/{task_id}")
    with app.app_context():
        run = db.session.scalars(sa.select(TaskRun)).one()
        assert run.requested_by == OPERATOR
        audited = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.category == "airflow")).one()
        assert (audited.actor, audited.action, audited.dag_id, audited.run_id) == (
            OPERATOR,
            "trigger",
            "example_quick",
            run.dag_run_id,
        )
        assert audited.user is not None and audited.user.email == OPERATOR
        assert audited.succeeded is False and "connection refused" in (audited.error or "")


def test_run_now_retried_by_the_scheduler_keeps_who_asked(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    task_id = make_task(app, retry_window_seconds=3600)
    client = FakeClient(AirflowUnavailable("fake", "connection refused"), None)
    monkeypatch.setattr(fires, "client_for", lambda server: client)
    with app.app_context():
        run = tasks.run_now(db.session.get(Task, task_id), actor=OPERATOR)
        assert (run.state, run.requested_by) == ("pending", OPERATOR)
        dag_run_id = run.dag_run_id
    scheduler_pass(app, client, monkeypatch)
    assert audit_rows(app) == [
        (OPERATOR, None, "trigger", "example_quick", dag_run_id, False),
        ("system:scheduler", None, "trigger", "example_quick", dag_run_id, True),
    ]
    with app.app_context():
        retry = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.category == "airflow").order_by(AuditEvent.id.desc())
        ).first()
        assert json.loads(retry.detail)["requested_by"] == OPERATOR  # type: ignore[union-attr]


# --- the scheduler -----------------------------------------------------------------------------


def scheduler_pass(app: Flask, client: FakeClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """One pass of a lane (as the scheduler's worker thread makes it) over every due run."""
    monkeypatch.setattr(fires, "client_for", lambda server: client)
    with app.app_context():
        server = db.session.scalars(sa.select(Task.server_id)).one()
        Lane(app, server, 1, lambda: True, poll=1.0).work_once(now=utcnow() + timedelta(days=1))


def test_a_scheduled_fire_is_one_audit_row_by_the_scheduler(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    task_id = make_task(app)
    with app.app_context():
        fires.record_fires([fires.Fire(task_id, datetime(2026, 6, 1, 10, 0))])
        db.session.commit()
        run = db.session.scalars(sa.select(TaskRun)).one()
        assert run.requested_by == "system:scheduler"
        dag_run_id = run.dag_run_id
    scheduler_pass(app, FakeClient(None), monkeypatch)
    assert audit_rows(app) == [("system:scheduler", None, "trigger", "example_quick", dag_run_id, True)]


def test_each_attempt_of_a_fire_is_audited_with_its_outcome(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    task_id = make_task(app, retry_window_seconds=3600)
    with app.app_context():
        fires.record_fires([fires.Fire(task_id, datetime(2026, 6, 1, 10, 0))])
        db.session.commit()
    client = FakeClient(AirflowBadRequest("fake", "invalid conf"))
    scheduler_pass(app, client, monkeypatch)
    with app.app_context():
        audited = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.category == "airflow")).one()
        assert (audited.actor, audited.succeeded) == ("system:scheduler", False)
        assert json.loads(audited.detail)["outcome"] == "failed" and "invalid conf" in (audited.error or "")


def test_a_409_is_audited_as_already_triggered(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    task_id = make_task(app)
    with app.app_context():
        fires.record_fires([fires.Fire(task_id, datetime(2026, 6, 1, 10, 0))])
        db.session.commit()
    scheduler_pass(app, FakeClient(AirflowConflict("fake", "exists", status=409)), monkeypatch)
    with app.app_context():
        audited = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.category == "airflow")).one()
        assert (audited.actor, audited.succeeded) == ("system:scheduler", True)
        assert json.loads(audited.detail)["outcome"] == "already triggered"
