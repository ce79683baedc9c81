"""The scheduler against the real Airflow sandbox: on time, exactly once, one leader, nothing lost.

* an every-minute task fires (the real process, a real schedule) and its DAG run succeeds;
* kill -9 between the trigger call and its record, restart: still exactly one DAG run;
* two scheduler processes (SQLite and PostgreSQL): one leader, one DAG run per fire, and
  when the leader is killed the other takes over within the lease and catches up;
* Airflow stopped during a fire, started again: the run is triggered late, but once.

Scheduler processes are real ``python manage.py scheduler`` subprocesses on the test
database, configured through ``CONSOLE_*`` variables.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console import create_app
from console.airflow.client import AirflowClient, DagRun
from console.extensions import db
from console.models import AirflowServer, SchedulerHeartbeat, SchedulerLease, Task, TaskRun
from console.models.timeutil import utcnow
from console.scheduler.process import SchedulerProcess
from console.services import servers, tasks
from console.services.fires import run_id_prefix
from tests.conftest import (
    ROOT,
    SANDBOX_START_TIMEOUT,
    base_config,
    empty_database,
    sandbox_api,
    sandbox_settings,
    wait_until,
)
from tests.crash_after_trigger import CRASH_EXIT_STATUS

pytestmark = pytest.mark.integration

QUICK = "example_quick"
LEASE_SECONDS = 6
FAST = {
    "SCHEDULER_POLL_SECONDS": 0.5,
    "SCHEDULER_LEASE_SECONDS": LEASE_SECONDS,
    "SCHEDULER_HEARTBEAT_SECONDS": 1.0,
    "SCHEDULER_MONITOR_SECONDS": 1.0,
    # However slow a busy machine makes a takeover or a setup, a fire is late, never missed.
    "SCHEDULER_MISFIRE_GRACE_SECONDS": 3600,
}
# How long to wait for something before failing: a guard against a hang, never a promise.
PATIENCE = 600


# --- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def airflow(airflow_sandbox: Any) -> AirflowClient:
    client = sandbox_api(airflow_sandbox, "scheduler-tests")
    if client.get_dag(QUICK).is_paused:
        client.set_paused(QUICK, False)
    return client


def register_sandbox(app: Flask, sandbox: Any) -> int:
    with app.app_context():
        server = servers.register_server(
            name="sandbox", base_url=sandbox.base_url, username=sandbox.username, secret=sandbox.password
        )
        server.connect_timeout, server.read_timeout = 2.0, 5.0  # a claim then lasts 17 s
        db.session.commit()
        return server.id


def make_task(app: Flask, server_id: int, cron: str, **values: Any) -> tuple[int, str]:
    """Create an enabled task; returns its id and the run-id prefix of its DAG runs."""
    with app.app_context():
        task = tasks.create_task(
            {
                "name": f"it-{uuid.uuid4().hex[:6]}",
                "server_id": server_id,
                "dag_id": QUICK,
                "cron": cron,
                "retry_backoff_seconds": 2,
                **values,
            },
            check_dag=False,
        )
        db.session.commit()
        return task.id, run_id_prefix(task.id, task.created_at)


def task_runs(app: Flask, task_id: int) -> list[TaskRun]:
    with app.app_context():
        rows = db.session.scalars(sa.select(TaskRun).where(TaskRun.task_id == task_id).order_by(TaskRun.scheduled_for))
        runs = list(rows)
        db.session.expunge_all()
        return runs


def airflow_runs(client: AirflowClient, prefix: str) -> list[DagRun]:
    return [r for r in client.list_dag_runs(QUICK, limit=400, order_by="-run_after") if r.run_id.startswith(prefix)]


def assert_one_dag_run_per_fire(app: Flask, client: AirflowClient, task_id: int, prefix: str) -> list[TaskRun]:
    runs = [r for r in task_runs(app, task_id) if r.state in ("triggered", "success", "failed")]
    in_airflow = [r.run_id for r in airflow_runs(client, prefix)]
    assert len(in_airflow) == len(set(in_airflow)), "a run id twice in Airflow"
    assert sorted(in_airflow) == sorted(r.dag_run_id for r in runs), "Airflow's runs differ from the recorded fires"
    return runs


#: The scheduler command with a crash injected right after its first trigger call.
CRASH_AFTER_TRIGGER = ("-m", "tests.crash_after_trigger")


class SchedulerProcesses:
    """``python manage.py scheduler`` subprocesses on one database; all stopped at the end."""

    def __init__(self, database_url: str, logs: Path) -> None:
        self.database_url, self.logs = database_url, logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, command: tuple[str, ...] = ("manage.py", "scheduler"), **config: Any) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
        env.update(
            CONSOLE_SECRET_KEY=base_config("")["SECRET_KEY"],
            CONSOLE_DATABASE_URL=self.database_url,
            PYTHONUNBUFFERED="1",
        )
        env.update({f"CONSOLE_{key}": str(value) for key, value in {**FAST, **config}.items()})
        log = open(self.logs / f"scheduler-{len(self.started)}.log", "wb")  # noqa: SIM115 (outlives this call)
        proc = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.started:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def log_of(self, proc: subprocess.Popen[bytes]) -> str:
        return (self.logs / f"scheduler-{self.started.index(proc)}.log").read_text(errors="replace")[-4000:]


@pytest.fixture
def processes(database_url: str, tmp_path: Path) -> Iterator[SchedulerProcesses]:
    procs = SchedulerProcesses(database_url, tmp_path)
    yield procs
    procs.stop_all()


@contextlib.contextmanager
def scheduler_thread(app: Flask) -> Iterator[SchedulerProcess]:
    """A scheduler in this process (same code as the command), stopped on exit."""
    process = SchedulerProcess(app)
    stop = threading.Event()
    thread = threading.Thread(target=process.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield process
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive(), "the scheduler did not stop"


# --- on time --------------------------------------------------------------------------------


def test_every_minute_task_fires_on_time_and_its_run_succeeds(
    app_factory: Callable[..., Flask], airflow_sandbox: Any, airflow: AirflowClient
) -> None:
    app = app_factory(**FAST)
    task_id, prefix = make_task(app, register_sandbox(app, airflow_sandbox), "* * * * *")
    with scheduler_thread(app):
        done = wait_until(
            lambda: [r for r in task_runs(app, task_id) if r.state in ("success", "failed")], PATIENCE, "a finished run"
        )
    run = done[0]
    assert run.state == "success", run.error
    assert (run.kind, run.scheduled_for.second, run.scheduled_for.microsecond) == ("scheduled", 0, 0)
    assert run.triggered_at is not None and run.triggered_at >= run.scheduled_for  # never early
    assert run.dag_run_id == f"{prefix}{run.scheduled_for:%Y-%m-%dT%H:%M:%S}Z"
    assert run.dag_run_state == "success" and (run.duration_seconds or 0) > 0 and run.attempts == 1
    assert_one_dag_run_per_fire(app, airflow, task_id, prefix)
    with app.app_context():
        beat = db.session.scalars(sa.select(SchedulerHeartbeat)).one()
        assert beat.is_leader is False  # a clean stop gives up the lead
        assert db.session.get(SchedulerLease, "scheduler").expires_at < utcnow()


# --- exactly once across a crash -----------------------------------------------------------


def test_kill_between_trigger_and_record_then_restart_leaves_one_dag_run(
    app: Flask, airflow_sandbox: Any, airflow: AirflowClient, processes: SchedulerProcesses
) -> None:
    task_id, prefix = make_task(app, register_sandbox(app, airflow_sandbox), "*/20 * * * * *")
    crashing = processes.start(CRASH_AFTER_TRIGGER)
    status = crashing.wait(PATIENCE)
    assert status == CRASH_EXIT_STATUS, processes.log_of(crashing)
    (crashed,) = task_runs(app, task_id)
    assert (crashed.state, crashed.attempts, crashed.triggered_at) == ("pending", 0, None)  # never recorded...
    assert [r.run_id for r in airflow_runs(airflow, prefix)] == [crashed.dag_run_id]  # ...but triggered

    survivor = processes.start()
    wait_until(
        lambda: next(r for r in task_runs(app, task_id) if r.id == crashed.id).state in ("triggered", "success"),
        PATIENCE,
        "the crashed fire to be retried",
    )
    survivor.send_signal(signal.SIGTERM)
    assert survivor.wait(PATIENCE) == 0, processes.log_of(survivor)  # SIGTERM: a clean exit
    retried = next(r for r in task_runs(app, task_id) if r.id == crashed.id)
    assert retried.attempts == 1 and retried.error is None  # the retry got 409: already triggered
    assert [r.run_id for r in airflow_runs(airflow, prefix)].count(crashed.dag_run_id) == 1
    assert_one_dag_run_per_fire(app, airflow, task_id, prefix)


# --- one leader -------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def leader_setup(request: pytest.FixtureRequest, app_factory: Callable[..., Flask], tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        app = app_factory()
        url = app.config["SQLALCHEMY_DATABASE_URI"]
    else:
        url = request.getfixturevalue("pg_url")
        app = create_app(base_config(url))
    procs = SchedulerProcesses(url, tmp_path)
    yield app, procs
    procs.stop_all()
    if request.param == "postgresql":
        empty_database(app)
        with app.app_context():
            db.engine.dispose()


def leader_pid(app: Flask) -> int | None:
    """The pid in the unexpired lease, when the heartbeats agree that it alone leads."""
    with app.app_context():
        lease = db.session.get(SchedulerLease, "scheduler")
        leaders = db.session.scalars(sa.select(SchedulerHeartbeat.pid).where(SchedulerHeartbeat.is_leader)).all()
        db.session.rollback()
        if lease is None or lease.expires_at < utcnow():
            return None
        pid = int(lease.holder.split(":")[-2])
        return pid if leaders == [pid] else None


def test_two_schedulers_elect_one_leader_and_trigger_each_fire_once(
    leader_setup: Any, airflow_sandbox: Any, airflow: AirflowClient
) -> None:
    app, procs = leader_setup
    task_id, prefix = make_task(app, register_sandbox(app, airflow_sandbox), "*/4 * * * * *")
    first, second = procs.start(), procs.start()
    by_pid = {first.pid: first, second.pid: second}
    leader = wait_until(lambda: leader_pid(app), PATIENCE, "one leader")
    assert leader in by_pid
    wait_until(lambda: len([r for r in task_runs(app, task_id) if r.triggered_at]) >= 3, PATIENCE, "three fires")
    with app.app_context():
        beats = db.session.scalars(sa.select(SchedulerHeartbeat)).all()
        assert sorted(b.pid for b in beats) == sorted(by_pid) and sum(b.is_leader for b in beats) == 1

    by_pid[leader].kill()  # kill -9: no chance to give the lease up
    by_pid[leader].wait(PATIENCE)
    with app.app_context():
        dead_lease = db.session.get(SchedulerLease, "scheduler")
        db.session.expunge_all()
    assert int(dead_lease.holder.split(":")[-2]) == leader
    follower = next(pid for pid in by_pid if pid != leader)
    wait_until(lambda: leader_pid(app) == follower, PATIENCE, "the follower to take over")
    with app.app_context():
        taken = db.session.get(SchedulerLease, "scheduler")
        assert taken.acquired_at > dead_lease.expires_at  # only once the dead leader's lease lapsed
    count = len(task_runs(app, task_id))
    wait_until(lambda: len([r for r in task_runs(app, task_id) if r.triggered_at]) >= count + 3, PATIENCE, "more fires")
    with app.app_context():
        tasks.set_enabled([db.session.get(Task, task_id)], False)
        db.session.commit()
    wait_until(lambda: all(r.state != "pending" for r in task_runs(app, task_id)), PATIENCE, "every fire triggered")
    procs.stop_all()

    runs = assert_one_dag_run_per_fire(app, airflow, task_id, prefix)
    fired = [r.scheduled_for for r in task_runs(app, task_id)]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(fired)]
    assert set(gaps) == {4.0}, f"a fire was lost or doubled: {fired}"  # the new leader caught up the gap
    assert len(runs) >= 6


# --- nothing lost while Airflow is down -----------------------------------------------------------


def once_at(moment: datetime) -> str:
    """A 6-field cron that fires at ``moment`` (UTC) only."""
    return f"{moment.second} {moment.minute} {moment.hour} {moment.day} {moment.month} *"


def test_airflow_down_during_a_fire_is_triggered_late_but_once(
    app_factory: Callable[..., Flask], airflow_sandbox: Any, airflow: AirflowClient
) -> None:
    from console.airflow import sandbox

    settings = sandbox_settings()
    app = app_factory(**FAST)
    server_id = register_sandbox(app, airflow_sandbox)
    try:
        sandbox.stop(settings, log=print)
        fire_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
        task_id, prefix = make_task(app, server_id, once_at(fire_at), retry_window_seconds=3600)
        with scheduler_thread(app):
            pending = wait_until(
                lambda: [r for r in task_runs(app, task_id) if r.attempts >= 1], PATIENCE, "a failed first attempt"
            )[0]
            assert pending.state == "pending" and "retrying" in (pending.error or ""), pending.error
            assert pending.scheduled_for == fire_at.replace(tzinfo=None)
            back_from = utcnow()  # Airflow is down until here: nothing can be triggered before
            sandbox.start(settings, timeout=SANDBOX_START_TIMEOUT, log=print)
            done = wait_until(
                lambda: [r for r in task_runs(app, task_id) if r.triggered_at], PATIENCE, "the late trigger"
            )[0]
    finally:
        sandbox.start(settings, timeout=SANDBOX_START_TIMEOUT, log=print)  # running again for the other tests
    assert done.attempts >= 2  # how the DAG run then ends is Airflow's business
    assert done.scheduled_for < back_from < done.triggered_at  # triggered late, once Airflow answered...
    assert [r.id for r in task_runs(app, task_id)] == [done.id]
    assert [r.run_id for r in airflow_runs(airflow, prefix)] == [done.dag_run_id]  # ...and once
    with app.app_context():
        assert db.session.get(AirflowServer, server_id) is not None
        assert db.session.get(Task, task_id).enabled
