"""Background jobs (bulk actions): outcomes per item, cancel between items, bad input, roles,
a worker that died, and a retried trigger. Airflow here is a fake client that counts calls and
refuses or conflicts on demand (the real sandbox: tests/integration/test_jobs_worker.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.airflow.errors import AirflowBadRequest, AirflowConflict
from console.extensions import db
from console.jobs import job_queue
from console.models import AuditEvent, Job, JobItem
from console.services import jobs, server_clients
from console.services.errors import ServiceError
from tests.conftest import Auth, wait_until
from tests.unit.test_tasks_screens import server_id

OPERATOR = "operator@example.com"


class CountingAirflow:
    """A client's DAG actions: each call is kept; DAGs in ``refuse`` answer 400, DAGs in
    ``exists`` already have the run (409); ``on_call`` runs before each answer."""

    def __init__(self, refuse: tuple[str, ...] = (), exists: tuple[str, ...] = ()) -> None:
        self.refuse, self.exists = set(refuse), set(exists)
        self.calls: list[tuple[str, str]] = []
        self.on_call: Callable[[int], None] = lambda n: None

    def _call(self, name: str, dag_id: str) -> None:
        self.calls.append((name, dag_id))
        self.on_call(len(self.calls))
        if dag_id in self.refuse:
            raise AirflowBadRequest("fake", f"{dag_id} refused")

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._call("pause" if paused else "unpause", dag_id)

    def trigger_dag_run(self, dag_id: str, *, run_id: str | None = None, **_kwargs: Any) -> Any:
        self._call("trigger", dag_id)
        if dag_id in self.exists:
            raise AirflowConflict("fake", "exists", status=409)
        return SimpleNamespace(run_id=run_id)

    def get_dag_run(self, dag_id: str, run_id: str) -> Any:
        self.calls.append(("get_dag_run", dag_id))
        return SimpleNamespace(run_id=run_id)

    def list_dag_runs(self, dag_id: str, **_kwargs: Any) -> list[Any]:
        self.calls.append(("list_dag_runs", dag_id))
        return [] if dag_id == "never_ran" else [SimpleNamespace(run_id=f"latest_{dag_id}")]

    def clear_task_instances(self, dag_id: str, **_kwargs: Any) -> list[Any]:
        self._call("clear", dag_id)
        return []


@pytest.fixture
def airflow(monkeypatch: pytest.MonkeyPatch) -> CountingAirflow:
    fake = CountingAirflow()
    monkeypatch.setattr(server_clients, "client_or_failure", lambda server: fake)
    return fake


def start(app: Flask, action: str, dags: list[str], sid: int | None = None) -> int:
    with app.app_context():
        sid = sid or server_id(app)
        return jobs.create_bulk_job(OPERATOR, action, [f"{sid}:{d}" for d in dags]).id


def run(app: Flask, job_id: int, runner: str = "test:1:abc") -> Job:
    with app.app_context():
        job = jobs.run_job(job_id, runner)
        assert job is not None
        db.session.expunge_all()
        return job


def items(app: Flask, job_id: int) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        rows = db.session.scalars(sa.select(JobItem).where(JobItem.job_id == job_id).order_by(JobItem.position))
        return [(i.dag_id, i.state, i.message) for i in rows]


def audit(app: Flask) -> list[tuple[str, str | None, bool, dict[str, Any]]]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.category == "airflow").order_by(AuditEvent.id))
        return [(r.action, r.dag_id, r.succeeded, json.loads(r.detail)) for r in rows]


def test_fake_airflow_refusing_one_dag_leaves_a_partially_failed_job_with_each_outcome(
    app: Flask, airflow: CountingAirflow
) -> None:
    airflow.refuse = {"b"}
    job_id = start(app, "pause", ["a", "b", "c"])
    job = run(app, job_id)
    assert (job.state, job.done, job.failed) == ("partially_failed", 3, 1)
    assert items(app, job_id) == [
        ("a", "succeeded", None),
        ("b", "failed", "Airflow server 'fake': b refused"),
        ("c", "succeeded", None),
    ]
    rows = audit(app)
    assert [(a, d, ok) for a, d, ok, _ in rows] == [
        ("bulk pause started", None, True),
        ("pause", "a", True),
        ("pause", "b", False),
        ("pause", "c", True),
        ("bulk pause finished", None, False),
    ]
    assert all(detail["job"] == job_id for *_, detail in rows)


def test_fake_airflow_counts_a_cancel_requested_mid_job_stops_before_the_next_item(
    app: Flask, airflow: CountingAirflow
) -> None:
    job_id = start(app, "unpause", ["a", "b", "c", "d"])

    def cancel_after_second(n: int) -> None:
        if n == 2:
            with app.app_context():
                jobs.request_cancel(job_id)

    airflow.on_call = cancel_after_second
    job = run(app, job_id)
    assert airflow.calls == [("unpause", "a"), ("unpause", "b")]
    assert job.state == "cancelled"
    assert [(d, s) for d, s, _ in items(app, job_id)] == [
        ("a", "succeeded"),
        ("b", "succeeded"),
        ("c", "cancelled"),
        ("d", "cancelled"),
    ]


def test_fake_airflow_a_retried_trigger_whose_run_exists_counts_as_done_and_is_audited_once(
    app: Flask, airflow: CountingAirflow
) -> None:
    airflow.exists = {"a"}
    job_id = start(app, "trigger", ["a"])
    job = run(app, job_id)
    assert job.state == "succeeded"
    with app.app_context():
        item = db.session.scalars(sa.select(JobItem)).one()
        assert item.run_id == jobs.trigger_run_id(db.session.get(Job, job_id), item)
    assert [(a, d, ok) for a, d, ok, _ in audit(app) if d] == [("trigger", "a", True)]


def test_fake_airflow_clear_latest_run_clears_each_dags_latest_and_reports_one_that_never_ran(
    app: Flask, airflow: CountingAirflow
) -> None:
    job_id = start(app, "clear", ["a", "never_ran"])
    job = run(app, job_id)
    assert job.state == "partially_failed"
    assert items(app, job_id)[1] == ("never_ran", "failed", "DAG 'never_ran' on 'offline' has no run to clear.")
    assert [(a, d) for a, d, _, _ in audit(app) if d] == [("clear", "a")]


@pytest.mark.parametrize(
    ("action", "keys", "message"),
    [
        ("pause", [], "Select at least one DAG first."),
        ("pause", ["  "], "Select at least one DAG first."),
        ("explode", ["1:a"], "Unknown bulk action 'explode'"),
        ("pause", ["nonsense"], "'nonsense' does not name a DAG"),
        ("pause", ["999:a"], "There is no enabled Airflow server with id 999"),
    ],
)
def test_bad_selections_are_refused_with_a_clear_message(
    app: Flask, action: str, keys: list[str], message: str
) -> None:
    with app.app_context():
        server_id(app)
        with pytest.raises(ServiceError, match=message.replace("(", r"\(")):
            jobs.create_bulk_job(OPERATOR, action, keys)
        assert db.session.scalars(sa.select(Job)).all() == []


def test_an_empty_selection_posted_to_the_dag_list_flashes_and_starts_nothing(app: Flask, login_as: Auth) -> None:
    login_as("operator")
    response = login_as.post("/admin/dags/bulk", {"action": "pause"}, follow_redirects=True)
    assert response.status_code == 200
    assert "Select at least one DAG first." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(sa.select(Job)).all() == []


def test_a_bulk_action_returns_at_once_with_the_job_page_and_the_job_queued(
    app_factory: Callable[..., Flask], tmp_path: Path
) -> None:
    app = app_factory(JOBS_IMMEDIATE=False, JOBS_QUEUE_PATH=str(tmp_path / "jobs.db"))
    login_as = Auth(app, app.test_client())
    sid = server_id(app)
    login_as("operator")
    response = login_as.post("/admin/dags/bulk", {"action": "trigger", "dag": [f"{sid}:a", f"{sid}:b"]})
    assert response.status_code == 302
    with app.app_context():
        job = db.session.scalars(sa.select(Job)).one()
        assert (job.state, job.total, job.actor) == ("queued", 2, OPERATOR)
        assert job_queue().huey.pending_count() == 1
    assert response.headers["Location"].endswith(f"/admin/jobs/{job.id}/")
    page = login_as.client.get(f"/admin/jobs/{job.id}/").get_data(as_text=True)
    assert 'data-testid="job-progress"' in page and 'data-testid="job-cancel"' in page
    assert login_as.client.get(f"/admin/jobs/{job.id}/progress").get_json()["percent"] == 0

    cancelled = login_as.post(f"/admin/jobs/{job.id}/cancel", follow_redirects=True)
    assert "was cancelled before it started" in cancelled.get_data(as_text=True)
    progress = login_as.client.get(f"/admin/jobs/{job.id}/progress").get_json()
    assert (progress["state"], [i["state"] for i in progress["items"]]) == ("cancelled", ["cancelled", "cancelled"])
    with app.app_context():  # the queued message finds the job cancelled and does nothing
        assert jobs.run_job(job.id, "test:1:late") is None


def test_a_viewer_follows_jobs_but_cannot_start_or_cancel_one(app: Flask, login_as: Auth) -> None:
    job_id = start(app, "pause", ["a"])
    login_as("viewer")
    sid = server_id(app)
    assert login_as.post("/admin/dags/bulk", {"action": "pause", "dag": f"{sid}:a"}).status_code == 403
    assert login_as.post(f"/admin/jobs/{job_id}/cancel").status_code == 403
    assert login_as.client.get("/admin/jobs/").status_code == 200
    page = login_as.client.get(f"/admin/jobs/{job_id}/").get_data(as_text=True)
    assert 'data-testid="job-progress"' in page and 'data-testid="job-cancel"' not in page
    assert login_as.client.get(f"/admin/jobs/{job_id}/progress").get_json()["state"] == "queued"
    with app.app_context():
        assert db.session.scalars(sa.select(Job.state)).all() == ["queued"]


def test_an_unknown_job_is_a_404_page_and_a_404_json(app: Flask, login_as: Auth) -> None:
    login_as("viewer")
    assert login_as.client.get("/admin/jobs/999/").status_code == 404
    assert login_as.client.get("/admin/jobs/999/progress").get_json() == {"message": "There is no job 999."}


def test_a_job_whose_worker_died_is_resumed_and_only_its_undone_items_run(app: Flask, airflow: CountingAirflow) -> None:
    job_id = start(app, "trigger", ["a", "b", "c"])
    airflow.on_call = lambda n: (_ for _ in ()).throw(SystemExit("killed")) if n == 2 else None
    with app.app_context(), pytest.raises(SystemExit):
        jobs.run_job(job_id, "somehost-dead:1:x")
    with app.app_context():
        db.session.rollback()
        assert jobs.recover_jobs(lambda runner: runner != "somehost-dead:1:x") == [job_id]
        assert jobs.recover_jobs(lambda runner: False) == []  # taken once, not twice
    airflow.on_call = lambda n: None
    job = run(app, job_id, "test:2:y")
    assert (job.state, job.attempts) == ("succeeded", 2)
    assert [c for c in airflow.calls if c[0] == "trigger"] == [("trigger", d) for d in ("a", "b", "b", "c")]
    assert [(a, d) for a, d, _, _ in audit(app) if d] == [("trigger", "a"), ("trigger", "b"), ("trigger", "c")]


def test_a_job_that_kept_killing_its_worker_ends_failed_with_the_reason(
    app_factory: Callable[..., Flask], airflow: CountingAirflow
) -> None:
    app = app_factory(JOBS_MAX_ATTEMPTS=1)
    job_id = start(app, "pause", ["a", "b"])
    airflow.on_call = lambda n: (_ for _ in ()).throw(SystemExit("killed")) if n == 2 else None
    with app.app_context(), pytest.raises(SystemExit):
        jobs.run_job(job_id, "somehost-dead:1:x")
    with app.app_context():
        db.session.rollback()
        assert jobs.recover_jobs(lambda runner: False) == []
        job = db.session.get(Job, job_id)
        assert (job.state, job.done, job.failed) == ("partially_failed", 2, 1)
    assert items(app, job_id)[1] == ("b", "failed", "not run: the job worker stopped once while running this job")


def test_fake_airflow_progress_polls_return_only_the_items_that_ended_since_the_last_poll(
    app: Flask, airflow: CountingAirflow, login_as: Auth
) -> None:
    job_id = start(app, "pause", ["a", "b", "c"])
    login_as("viewer")
    first = login_as.client.get(f"/admin/jobs/{job_id}/progress").get_json()
    assert (first["percent"], first["seen"], first["items"]) == (0, 0, [])
    run(app, job_id)
    second = login_as.client.get(f"/admin/jobs/{job_id}/progress", query_string={"seen": 1}).get_json()
    assert (second["percent"], second["seen"]) == (100, 3)
    assert [(i["dag_id"], i["state"]) for i in second["items"]] == [("b", "succeeded"), ("c", "succeeded")]


def test_a_runner_is_alive_only_while_its_process_and_its_run_are(app: Flask) -> None:
    import os
    import socket

    queue = job_queue_of(app)
    mine = queue.new_runner()
    assert queue.runner_alive(mine) is False  # this process, but not running that job
    queue.active.add(mine)
    assert queue.runner_alive(mine) is True
    dead = subprocess_pid_that_ended()
    assert queue.runner_alive(f"{socket.gethostname()}:{dead}:x") is False
    assert queue.runner_alive(f"{socket.gethostname()}:{os.getppid()}:x") is True
    assert queue.runner_alive("another-host:1:x") is True  # only its heartbeat can tell


def job_queue_of(app: Flask) -> Any:
    with app.app_context():
        return job_queue()


def subprocess_pid_that_ended() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_worker_heartbeat_shows_while_fresh_and_goes_when_stale_or_forgotten(
    app_factory: Callable[..., Flask],
) -> None:
    from console.services import job_workers

    app = app_factory(JOBS_HEARTBEAT_SECONDS=0.2)
    with app.app_context():
        assert job_workers.latest() is None
        job_workers.beat("h:1", "h", 1, running=1)
        fresh = job_workers.latest()
        assert fresh is not None and fresh["detail"].endswith("from h (pid 1), 1 job running")
        wait_until(lambda: job_workers.latest() is None, 30, "the heartbeat to go stale", interval=0.1)
        job_workers.beat("h:1", "h", 1, running=0)
        job_workers.forget("h:1")
        assert job_workers.latest() is None
