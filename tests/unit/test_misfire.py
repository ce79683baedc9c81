"""Misfire handling with a frozen clock: every function gets ``now`` explicitly, nothing sleeps."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import Task, TaskRun
from console.scheduler import misfire
from console.services import cron, servers, tasks
from console.services.fires import Fire, dag_run_id, record_fires

NOW = datetime(2026, 6, 1, 10, 5, 30)  # naive UTC, as stored
GRACE = timedelta(seconds=60)
EVERY_MINUTE = cron.parse("* * * * *")


def at(minute: int, second: int = 0) -> datetime:
    return datetime(2026, 6, 1, 10, minute, second)


def summary(fires: list[Fire]) -> list[tuple[str, str, str]]:
    return [(f"{f.scheduled_for:%H:%M}", f.kind, f.state) for f in fires]


def test_skip_records_missed_fires_and_fires_the_late_one() -> None:
    plan = misfire.plan(1, EVERY_MINUTE, "skip", since=at(0), now=NOW, grace=GRACE)
    assert summary(plan) == [
        ("10:01", "scheduled", "missed"),
        ("10:02", "scheduled", "missed"),
        ("10:03", "scheduled", "missed"),
        ("10:04", "scheduled", "missed"),
        ("10:05", "scheduled", "pending"),  # 30 s late is within the grace: fired as usual
    ]
    assert all("scheduler was not running" in (f.error or "") for f in plan if f.state == "missed")


def test_run_once_fires_the_latest_missed_fire_once() -> None:
    plan = misfire.plan(1, EVERY_MINUTE, "run_once", since=at(0), now=NOW, grace=GRACE)
    assert summary(plan) == [
        ("10:01", "scheduled", "missed"),
        ("10:02", "scheduled", "missed"),
        ("10:03", "scheduled", "missed"),
        ("10:04", "caught_up", "pending"),
        ("10:05", "scheduled", "pending"),
    ]


def test_nothing_missed_means_nothing_planned() -> None:
    assert misfire.plan(1, EVERY_MINUTE, "run_once", since=at(5), now=NOW, grace=GRACE) == []


def test_a_long_outage_records_only_the_latest_missed_fires() -> None:
    since = NOW - timedelta(days=2)
    plan = misfire.plan(1, EVERY_MINUTE, "run_once", since=since, now=NOW, grace=GRACE, max_missed=10)
    assert [f.state for f in plan].count("missed") == 10
    assert summary(plan)[-2:] == [("10:04", "caught_up", "pending"), ("10:05", "scheduled", "pending")]
    assert summary(plan)[0] == ("09:54", "scheduled", "missed")


def test_run_once_with_a_single_missed_fire_catches_it_up() -> None:
    hourly = cron.parse("0 * * * *")
    plan = misfire.plan(1, hourly, "run_once", since=datetime(2026, 6, 1, 9, 0), now=NOW, grace=GRACE)
    assert summary(plan) == [("10:00", "caught_up", "pending")]


# --- recorded in the database -------------------------------------------------


def make_task(app: Flask, **values: Any) -> int:
    with app.app_context():
        server = servers.register_server(name="misfire", base_url="http://127.0.0.1:9", username="u", secret="p")
        db.session.flush()
        task = tasks.create_task(
            {"name": "every minute", "server_id": server.id, "dag_id": "example_quick", "cron": "* * * * *", **values},
            check_dag=False,
        )
        task.updated_at = at(0) - timedelta(hours=1)
        db.session.commit()
        return task.id


def runs(task_id: int) -> list[tuple[str, str, str]]:
    rows = db.session.scalars(sa.select(TaskRun).where(TaskRun.task_id == task_id).order_by(TaskRun.scheduled_for))
    return [(f"{r.scheduled_for:%H:%M}", r.kind, r.state) for r in rows]


def test_catch_up_starts_after_the_last_recorded_fire_and_is_idempotent(app: Flask) -> None:
    task_id = make_task(app, misfire_policy="run_once")
    with app.app_context():
        record_fires([Fire(task_id, at(2))], now=at(2))
        db.session.commit()
        task = db.session.get(Task, task_id)
        assert misfire.catch_up([task], now=NOW, grace=GRACE) == 3
        db.session.commit()
        assert misfire.catch_up([task], now=NOW, grace=GRACE) == 0  # twice (or two schedulers): once
        db.session.commit()
        assert runs(task_id) == [
            ("10:02", "scheduled", "pending"),
            ("10:03", "scheduled", "missed"),
            ("10:04", "caught_up", "pending"),
            ("10:05", "scheduled", "pending"),
        ]
        caught_up = db.session.scalars(sa.select(TaskRun).where(TaskRun.kind == "caught_up")).one()
        assert caught_up.dag_run_id == dag_run_id(task_id, task.created_at, at(4))
        assert caught_up.dag_run_id.endswith("__2026-06-01T10:04:00Z")
        assert caught_up.next_attempt_at == NOW


def test_catch_up_ignores_fires_from_before_the_last_edit(app: Flask) -> None:
    task_id = make_task(app, misfire_policy="skip")
    with app.app_context():
        task = db.session.get(Task, task_id)
        task.updated_at = at(3, 30)  # e.g. enabled at 10:03:30: earlier fires were not missed
        db.session.commit()
        misfire.catch_up([task], now=NOW, grace=GRACE)
        db.session.commit()
        assert runs(task_id) == [("10:04", "scheduled", "missed"), ("10:05", "scheduled", "pending")]


def test_disabled_tasks_are_not_caught_up(app: Flask) -> None:
    task_id = make_task(app, enabled=False)
    with app.app_context():
        assert misfire.catch_up([db.session.get(Task, task_id)], now=NOW, grace=GRACE) == 0
        assert runs(task_id) == []


def test_a_fire_recorded_by_the_restarted_job_does_not_hide_the_gap_before_it(app: Flask) -> None:
    # The leader lost the database for a while, took the lead again, and its re-added job fired (and
    # recorded) 10:05 before the catch-up ran: the catch-up still records 10:02-10:04.
    task_id = make_task(app, misfire_policy="run_once")
    with app.app_context():
        record_fires([Fire(task_id, at(1))], now=at(1))
        record_fires([Fire(task_id, at(5))], now=at(5))
        db.session.commit()
        task = db.session.get(Task, task_id)
        assert misfire.catch_up([task], now=NOW, grace=timedelta(hours=1), before=at(4, 30)) == 3
        db.session.commit()
        assert [minute for minute, _kind, _state in runs(task_id)] == ["10:01", "10:02", "10:03", "10:04", "10:05"]
