"""Bulk actions as background jobs against the real Airflow sandbox, run by real
``python manage.py worker`` subprocesses on the test database and a Huey SQLite queue:

* a bulk unpause then a bulk trigger of many generated DAGs, started from the DAG list: each
  DAG ends with exactly one DAG run (the job's run id) and one audit row naming the operator;
* a worker killed (SIGKILL) the moment Airflow accepted a trigger whose outcome it had not
  recorded, then started again: the job resumes, every item is done exactly once, and Airflow
  has one run per DAG.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.airflow.client import AirflowClient
from console.extensions import db
from console.models import AuditEvent, Job, JobItem
from console.services import jobs, servers
from tests.conftest import ROOT, Auth, base_config, sandbox_api, wait_until

pytestmark = pytest.mark.integration

# How long to wait for a job before failing: a guard against a hang, never a promise.
PATIENCE = 600
BULK_DAGS = [f"generated_{n:04d}" for n in range(100, 130)]
CRASH_DAGS = [f"generated_{n:04d}" for n in range(130, 142)]
CRASH_AFTER_TRIGGERS = 5


@pytest.fixture(scope="module")
def airflow(airflow_sandbox: Any) -> AirflowClient:
    return sandbox_api(airflow_sandbox, "jobs-tests")


def delete_job_runs(api: AirflowClient, dag_ids: list[str]) -> None:
    """Leave the generated DAGs as the session found them: paused and without the jobs' runs
    (Airflow deletes no unfinished run: such a run is marked failed first)."""
    for dag_id in dag_ids:
        if not api.get_dag(dag_id).is_paused:
            api.set_paused(dag_id, True)
        for run in api.list_dag_runs(dag_id, limit=50):
            if not run.run_id.startswith(jobs.RUN_ID_PREFIX):
                continue
            if run.state not in ("success", "failed"):
                api.set_dag_run_state(dag_id, run.run_id, "failed")
            api.session.call(
                "delete run",
                api.session.dag_run_api.delete_dag_run_without_preload_content,
                dag_id,
                run.run_id,
                idempotent=True,
            )


@pytest.fixture
def queued_app(app_factory: Callable[..., Flask], tmp_path: Path) -> Flask:
    """The console with a real queue (a Huey SQLite file) that the worker subprocesses share."""
    return app_factory(JOBS_IMMEDIATE=False, JOBS_QUEUE_PATH=str(tmp_path / "jobs.db"))


@pytest.fixture
def server_id(queued_app: Flask, airflow_sandbox: Any) -> int:
    with queued_app.app_context():
        server = servers.register_server(
            name="sandbox",
            base_url=airflow_sandbox.base_url,
            username=airflow_sandbox.username,
            secret=airflow_sandbox.password,
        )
        db.session.commit()
        return server.id


class Workers:
    """Job worker subprocesses on the test database and queue; all stopped at the end."""

    def __init__(self, app: Flask, logs: Path) -> None:
        self.app, self.logs = app, logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *command: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
        env.update(
            CONSOLE_SECRET_KEY=base_config("")["SECRET_KEY"],
            CONSOLE_DATABASE_URL=self.app.config["SQLALCHEMY_DATABASE_URI"],
            CONSOLE_JOBS_QUEUE_PATH=self.app.config["JOBS_QUEUE_PATH"],
            CONSOLE_TEST_CRASH_AFTER_TRIGGERS=str(CRASH_AFTER_TRIGGERS),
            PYTHONUNBUFFERED="1",
        )
        log = open(self.logs / f"worker-{len(self.started)}.log", "wb")  # noqa: SIM115 (outlives this call)
        command = command or ("manage.py", "worker", "--workers", "1")
        proc = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.started:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def log_of(self, proc: subprocess.Popen[bytes]) -> str:
        return (self.logs / f"worker-{self.started.index(proc)}.log").read_text(errors="replace")[-4000:]


@pytest.fixture
def workers(queued_app: Flask, tmp_path: Path) -> Iterator[Workers]:
    procs = Workers(queued_app, tmp_path)
    yield procs
    procs.stop_all()


def start_bulk(app: Flask, action: str, sid: int, dag_ids: list[str]) -> int:
    """Start the bulk action as an operator through the DAG list; returns the job id."""
    auth = Auth(app, app.test_client())
    auth("operator")
    response = auth.post("/admin/dags/bulk", {"action": action, "dag": [f"{sid}:{d}" for d in dag_ids]})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def job_row(app: Flask, job_id: int) -> Job:
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert job is not None
        db.session.expunge(job)
        return job


def wait_for_job(app: Flask, job_id: int) -> Job:
    return wait_until(
        lambda: (job := job_row(app, job_id)).is_final and job, PATIENCE, f"job {job_id} to end", interval=0.5
    )


def item_rows(app: Flask, job_id: int) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        rows = db.session.scalars(sa.select(JobItem).where(JobItem.job_id == job_id).order_by(JobItem.position))
        return [(i.dag_id, i.state, i.run_id) for i in rows]


def audited(app: Flask, action: str) -> list[tuple[str, str | None, str | None]]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.category == "airflow")
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
        return [(r.actor, r.dag_id, r.run_id) for r in rows]


def job_runs(app: Flask, api: AirflowClient, job_id: int, dag_id: str) -> list[str]:
    """The runs of ``dag_id`` in Airflow that job ``job_id`` made."""
    with app.app_context():
        prefix = f"{jobs.RUN_ID_PREFIX}{jobs.get_job(job_id).uid[:12]}-"
    return [r.run_id for r in api.list_dag_runs(dag_id, limit=50) if r.run_id.startswith(prefix)]


def test_bulk_unpause_and_trigger_of_many_dags_ends_with_one_audited_run_each(
    queued_app: Flask, server_id: int, airflow: AirflowClient, workers: Workers
) -> None:
    app = queued_app
    try:
        workers.start()
        unpause = wait_for_job(app, start_bulk(app, "unpause", server_id, BULK_DAGS))
        assert (unpause.state, unpause.done, unpause.failed) == ("succeeded", len(BULK_DAGS), 0)
        assert not any(airflow.get_dag(d).is_paused for d in BULK_DAGS)

        trigger_id = start_bulk(app, "trigger", server_id, BULK_DAGS)
        trigger = wait_for_job(app, trigger_id)
        assert (trigger.state, trigger.done, trigger.failed) == ("succeeded", len(BULK_DAGS), 0)
        items = item_rows(app, trigger_id)
        assert [i[1] for i in items] == ["succeeded"] * len(BULK_DAGS)
        assert {d: job_runs(app, airflow, trigger_id, d) for d in BULK_DAGS} == {d: [r] for d, _, r in items}
        operator = "operator@example.com"
        assert audited(app, "trigger") == [(operator, d, r) for d, _, r in items]
        assert audited(app, "unpause") == [(operator, d, None) for d in BULK_DAGS]
        assert [a for a, *_ in audited(app, "bulk trigger finished")] == [operator]
    finally:
        delete_job_runs(airflow, BULK_DAGS)


def test_a_worker_killed_mid_job_is_resumed_and_every_dag_is_triggered_exactly_once(
    queued_app: Flask, server_id: int, airflow: AirflowClient, workers: Workers
) -> None:
    app = queued_app
    try:
        doomed = workers.start("-m", "tests.crash_mid_job")
        job_id = start_bulk(app, "trigger", server_id, CRASH_DAGS)
        assert doomed.wait(PATIENCE) == -signal.SIGKILL, workers.log_of(doomed)
        # Killed right after Airflow accepted trigger number 5, before its outcome was recorded.
        crashed = job_row(app, job_id)
        assert (crashed.state, crashed.done, crashed.attempts) == ("running", CRASH_AFTER_TRIGGERS - 1, 1)
        assert len(job_runs(app, airflow, job_id, CRASH_DAGS[CRASH_AFTER_TRIGGERS - 1])) == 1

        again = workers.start()
        job = wait_for_job(app, job_id)
        assert (job.state, job.done, job.failed, job.attempts) == ("succeeded", len(CRASH_DAGS), 0, 2), workers.log_of(
            again
        )
        items = item_rows(app, job_id)
        assert {d: job_runs(app, airflow, job_id, d) for d in CRASH_DAGS} == {d: [r] for d, _, r in items}
        assert [d for _, d, _ in audited(app, "trigger")] == CRASH_DAGS
    finally:
        delete_job_runs(airflow, CRASH_DAGS)


def test_a_running_worker_shows_on_the_dashboard_and_goes_when_it_stops(
    app_factory: Callable[..., Flask], tmp_path: Path
) -> None:
    app = app_factory(JOBS_IMMEDIATE=False, JOBS_QUEUE_PATH=str(tmp_path / "jobs.db"), JOBS_HEARTBEAT_SECONDS=1.0)
    workers = Workers(app, tmp_path)
    auth = Auth(app, app.test_client())
    auth("viewer")

    def worker_health() -> str:
        html = auth.client.get("/admin/").get_data(as_text=True)
        return html.split('data-testid="worker-health"', 1)[1].split("</div>", 1)[0]

    assert "not running / no heartbeat" in worker_health()
    try:
        proc = workers.start()
        shown = wait_until(lambda: "last heartbeat" in (h := worker_health()) and h, PATIENCE, "the worker's heartbeat")
        assert "badge-success" in shown and f"(pid {proc.pid}), 0 jobs running" in shown
    finally:
        workers.stop_all()
    assert proc.returncode == 0, workers.log_of(proc)
    assert "not running / no heartbeat" in worker_health()
