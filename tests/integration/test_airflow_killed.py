"""Airflow killed in the middle of a burst of triggers, then restarted: nothing lost, nothing twice.

Several console tasks fire at the same moment, so a real ``manage.py scheduler`` process triggers
them one after another. As the first of them reaches Airflow, the whole sandbox (its process group
and anything else of it) is killed with ``SIGKILL``, as in a crash; it stays down until the scheduler
has recorded a failed attempt, then it is started again. Every fire must end with exactly one
``TaskRun`` and exactly one DAG run in Airflow (the deterministic run id, looked up through the API).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.airflow import sandbox as sb
from console.airflow.client import AirflowClient
from console.airflow.sandbox.process import sandbox_processes
from console.extensions import db
from console.models import AuditEvent, TaskRun
from tests.conftest import SANDBOX_START_TIMEOUT, sandbox_settings, wait_until
from tests.integration import test_scheduler_processes as sp
from tests.integration.test_scheduler_processes import PATIENCE, SchedulerProcesses

pytestmark = pytest.mark.integration
airflow = sp.airflow  # the fixture: the sandbox's API, example_quick unpaused
processes = sp.processes  # the fixture: scheduler subprocesses, stopped after the test

#: Tasks firing at the same moment: the burst.
BURST = 10
#: Time to create the tasks and start the scheduler before the burst (a floor, not a promise).
SETUP_SECONDS = 25


@pytest.fixture
def sandbox_to_kill(airflow_sandbox: Any) -> Iterator[Any]:
    """The session's sandbox settings, for a test that kills it; started again afterwards whatever
    the test found, so that the tests after it find Airflow running."""
    settings = sandbox_settings()
    yield settings
    sb.start(settings, timeout=SANDBOX_START_TIMEOUT, log=print)


def kill_airflow(settings: Any) -> int:
    """``SIGKILL`` every process of the sandbox (its process group first), as a crash would; returns
    how many processes were killed once none is left."""
    pid = sb.status(settings).pid
    assert pid is not None, "the sandbox is not running"
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    killed = {pid}

    def gone() -> bool:
        left = sandbox_processes(settings, session=pid)  # a process that left the group, too
        for proc in left:
            with contextlib.suppress(OSError):
                os.kill(proc.pid, signal.SIGKILL)
            killed.add(proc.pid)
        return not left and not sb.status(settings).running

    wait_until(gone, PATIENCE, "every Airflow process to die", interval=0.1)
    return len(killed)


def burst_moment() -> datetime:
    """The first whole minute at least :data:`SETUP_SECONDS` away (UTC, aware)."""
    soon = datetime.now(UTC) + timedelta(seconds=SETUP_SECONDS)
    return soon.replace(second=0, microsecond=0) + timedelta(minutes=1)


def fires_of(app: Flask, task_ids: list[int]) -> list[TaskRun]:
    return [run for task_id in task_ids for run in sp.task_runs(app, task_id)]


def trigger_audit(app: Flask, run_ids: set[str]) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "trigger", AuditEvent.run_id.in_(run_ids))
        ).all()
        db.session.expunge_all()
        return list(rows)


def test_airflow_killed_mid_burst_and_restarted_triggers_every_fire_exactly_once(
    app: Flask,
    airflow_sandbox: Any,
    airflow: AirflowClient,
    processes: SchedulerProcesses,
    sandbox_to_kill: Any,
) -> None:
    server_id = sp.register_sandbox(app, airflow_sandbox)
    moment = burst_moment()
    made = [sp.make_task(app, server_id, sp.once_at(moment), retry_window_seconds=3600) for _ in range(BURST)]
    task_ids, prefixes = [t for t, _ in made], dict(made)
    scheduler = processes.start()

    # The event: the first fire of the burst has reached Airflow (its run is recorded as triggered).
    wait_until(
        lambda: any(r.triggered_at for r in fires_of(app, task_ids)) or scheduler.poll() is not None,
        PATIENCE,
        "the first trigger of the burst",
        interval=0.02,
    )
    assert scheduler.poll() is None, processes.log_of(scheduler)
    killed = kill_airflow(sandbox_to_kill)
    before = [r for r in fires_of(app, task_ids) if r.triggered_at]
    assert 1 <= len(before) < BURST, f"the kill did not land mid-burst: {len(before)} of {BURST} triggered"

    # Down until the scheduler has met the dead Airflow: a failed attempt, to be retried.
    failed = wait_until(
        lambda: [r for r in fires_of(app, task_ids) if r.state == "pending" and r.attempts >= 1],
        PATIENCE,
        "a failed attempt while Airflow is down",
    )
    assert all("retrying" in (r.error or "") for r in failed), [r.error for r in failed]
    sb.start(sandbox_to_kill, timeout=SANDBOX_START_TIMEOUT, log=print)
    wait_until(
        lambda: all(r.state != "pending" for r in fires_of(app, task_ids)) or scheduler.poll() is not None,
        PATIENCE,
        "every fire of the burst to be settled",
    )
    assert scheduler.poll() is None, processes.log_of(scheduler)
    processes.stop_all()

    fires = fires_of(app, task_ids)
    naive = moment.replace(tzinfo=None)
    # Nothing lost: one fire per task, for the burst's moment, triggered (however its DAG run ends).
    assert sorted((r.task_id, r.scheduled_for) for r in fires) == [(t, naive) for t in sorted(task_ids)]
    assert all(r.triggered_at is not None for r in fires), [(r.task_id, r.state, r.error) for r in fires]
    # Nothing twice: exactly one DAG run in Airflow per fire, with the fire's run id.
    in_airflow = {t: [r.run_id for r in sp.airflow_runs(airflow, prefixes[t])] for t in task_ids}
    assert {r.task_id: [r.dag_run_id] for r in fires} == in_airflow
    # Leave Airflow quiet for the tests after this one: the burst's runs finished (on the sandbox's
    # SQLite database a busy Airflow scheduler makes other writers fail with "database is locked").
    wait_until(
        lambda: all(r.state in ("success", "failed") for t in task_ids for r in sp.airflow_runs(airflow, prefixes[t])),
        PATIENCE,
        "the burst's DAG runs to finish",
    )
    # The retries were recorded: attempts on the rows, one audit row each.
    retried = [r for r in fires if r.attempts >= 2]
    assert retried, "no fire needed a retry"
    audit = trigger_audit(app, {r.dag_run_id for r in fires})
    assert len(audit) == sum(r.attempts for r in fires)
    failed_attempts = [a for a in audit if a.outcome == "failed"]
    assert len(failed_attempts) == sum(r.attempts for r in fires) - len(fires)
    already = [a for a in audit if json.loads(a.detail).get("outcome") == "already triggered"]
    print(
        f"[airflow-killed] {len(fires)} fires checked, {len(before)} triggered before the kill of {killed} "
        f"processes, {len(retried)} retried ({len(failed_attempts)} failed attempts, {len(already)} answered "
        f"409 already triggered), 0 duplicates, 0 lost"
    )
