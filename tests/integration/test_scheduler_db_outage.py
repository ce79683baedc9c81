"""The console database locked for longer than the scheduler's lease, against the real sandbox: the
scheduler logs and retries, takes the lead again when the lock goes, and catches up, so that every
fire of the outage is triggered late but once (SQLite: another connection holds the write lock)."""

from __future__ import annotations

import itertools
import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from console.airflow.client import AirflowClient
from console.extensions import db
from console.models import Task
from console.models.timeutil import utcnow
from console.services import tasks
from tests.conftest import base_config, build_app, empty_database, wait_until
from tests.integration import test_scheduler_processes
from tests.integration.test_scheduler_processes import (
    FAST,
    PATIENCE,
    assert_one_dag_run_per_fire,
    make_task,
    register_sandbox,
    scheduler_thread,
    task_runs,
)

pytestmark = pytest.mark.integration
airflow = test_scheduler_processes.airflow  # the fixture: the sandbox's API, example_quick unpaused


@pytest.fixture
def locked_app(sqlite_url: str) -> Iterator[Flask]:
    app = build_app(base_config(sqlite_url, **FAST, SQLITE_BUSY_TIMEOUT_MS=200))
    yield app
    empty_database(app)
    with app.app_context():
        db.engine.dispose()


def said(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if text in r.getMessage()]


def triggered(app: Flask, task_id: int) -> list[Any]:
    return [r for r in task_runs(app, task_id) if r.triggered_at]


def test_the_scheduler_rides_out_a_locked_database_and_fires_each_moment_once(
    locked_app: Flask, airflow_sandbox: Any, airflow: AirflowClient, caplog: pytest.LogCaptureFixture
) -> None:
    app = locked_app
    task_id, prefix = make_task(app, register_sandbox(app, airflow_sandbox), "*/4 * * * * *")
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    caplog.set_level(logging.WARNING, logger="console.scheduler")
    with scheduler_thread(app):
        wait_until(lambda: len(triggered(app, task_id)) >= 2, PATIENCE, "two fires")
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # nobody else may write
            holder.execute("DELETE FROM task_run WHERE 0")
            locked_at = utcnow()
            failed = wait_until(lambda: said(caplog, "database is locked"), PATIENCE, "a retry")
            # The outage outlasts the lease: the leader gives the lead up (it cannot renew) and must
            # take it back after the lock; the lock is held until that event, not for a time.
            wait_until(lambda: said(caplog, "lost the lead"), PATIENCE, "the leader giving up its lapsed lease")
            during = len(said(caplog, "database is locked"))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        unlocked_at = utcnow()
        wait_until(
            lambda: len([r for r in triggered(app, task_id) if r.triggered_at > unlocked_at]) >= 4,
            PATIENCE,
            "the catch-up and new fires after the lock",
        )
        with app.app_context():
            tasks.set_enabled([db.session.get(Task, task_id)], False)
            db.session.commit()
        wait_until(lambda: all(r.state != "pending" for r in task_runs(app, task_id)), PATIENCE, "every fire")
    assert failed and during >= len(failed)
    runs = assert_one_dag_run_per_fire(app, airflow, task_id, prefix)  # 0 duplicates
    fired = [r.scheduled_for for r in task_runs(app, task_id)]
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(fired)}
    assert gaps == {4.0}, f"a fire was lost or doubled: {fired}"  # 0 lost, the outage's fires included
    outage = [f for f in fired if locked_at <= f <= unlocked_at]
    assert outage, "no fire fell due while the database was locked"
    print(f"[db-outage] {len(runs)} fires checked ({len(outage)} in the lock), {during} lock errors, 0 dup, 0 lost")
