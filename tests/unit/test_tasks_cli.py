"""The task commands: ``seed-demo`` creates the demo task, ``scheduler --once`` does one pass."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import SchedulerHeartbeat, SchedulerLease, Task, TaskRun
from console.models.timeutil import utcnow
from console.services import demo, servers, tasks
from tests.conftest import Auth

OFFLINE = "http://127.0.0.1:9"


def register(app: Flask, name: str) -> int:
    with app.app_context():
        server = servers.register_server(name=name, base_url=OFFLINE, username="u", secret="p")
        db.session.commit()
        return server.id


def test_seed_demo_explains_a_missing_sandbox_then_creates_the_task(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["seed-demo", "--password", "correct horse battery staple"])
    assert result.exit_code == 0, result.output
    assert "No Airflow server named 'sandbox' is registered" in result.output
    register(app, "sandbox")
    result = runner.invoke(args=["seed-demo", "--password", "correct horse battery staple"])
    assert f"Created the demo task {demo.DEMO_TASK!r}" in result.output
    with app.app_context():
        task = db.session.scalars(sa.select(Task)).one()
        assert (task.dag_id, task.cron, task.enabled) == ("example_quick", "* * * * *", True)
    assert "Created the demo task" not in runner.invoke(args=["seed-demo"]).output  # once only


def test_scheduler_once_catches_up_and_attempts_what_is_due(app_factory: Any) -> None:
    app = app_factory(SCHEDULER_MISFIRE_GRACE_SECONDS=0)  # every fire of the last three hours is "missed"
    runner = app.test_cli_runner()
    server_id = register(app, "offline")
    with app.app_context():
        task = tasks.create_task(
            {
                "name": "hourly",
                "server_id": server_id,
                "dag_id": "example_quick",
                "cron": "0 * * * *",
                "misfire_policy": "run_once",
            },
            check_dag=False,
        )
        task.updated_at = utcnow() - timedelta(hours=3)  # the scheduler was down for three hourly fires
        db.session.commit()
    result = runner.invoke(args=["scheduler", "--once"])
    assert result.exit_code == 0, result.output
    assert "Done." in result.output
    with app.app_context():
        runs = db.session.scalars(sa.select(TaskRun).order_by(TaskRun.scheduled_for)).all()
        assert [r.state for r in runs] == ["missed", "missed", "pending"]
        assert runs[-1].kind == "caught_up" and runs[-1].attempts == 1
        assert "connection refused" in (runs[-1].error or "")
        assert db.session.get(SchedulerLease, "scheduler").expires_at < utcnow()  # given back
        assert db.session.scalars(sa.select(SchedulerHeartbeat)).one().is_leader is False


def test_deleting_a_task_deletes_its_history(app: Flask, login_as: Auth) -> None:
    server_id = register(app, "offline")
    with app.app_context():
        task = tasks.create_task(
            {"name": "doomed", "server_id": server_id, "dag_id": "example_quick", "cron": "0 * * * *"},
            check_dag=False,
        )
        task.updated_at = utcnow() - timedelta(hours=2)
        db.session.commit()
        task_id = task.id
    from console.scheduler import misfire

    with app.app_context():
        misfire.catch_up([db.session.get(Task, task_id)], now=utcnow(), grace=timedelta(seconds=60))
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TaskRun)) >= 1
    login_as("admin")
    response = login_as.post("/admin/tasks/delete/", {"id": str(task_id)})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Task, task_id) is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TaskRun)) == 0
