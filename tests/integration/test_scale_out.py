"""Scale-out on PostgreSQL + Redis against the real sandbox: 4 gunicorn web workers, 2 scheduler
processes and a job worker, all real subprocesses sharing one database and one Redis.

* every-minute tasks fire exactly once per minute for three minutes (no fire lost or doubled, one
  Airflow DAG run per fire), whichever scheduler leads;
* a user signed in through one worker is signed in on every worker;
* the sign-in delay counted through some workers holds on every worker;
* a change made through one worker (disabling the tasks) is seen by every worker.

Requests go through gunicorn's socket on a new connection each, so the kernel hands them to any
worker; ``tests/pid_wsgi.py`` names the answering worker in a header, and the checks go on until
every worker has answered.
"""

from __future__ import annotations

import http.client
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
import sqlalchemy as sa
from flask import Flask

from console import create_app
from console.airflow.client import AirflowClient
from console.extensions import db
from console.models import Task, WorkerHeartbeat
from tests.conftest import (
    PASSWORD,
    REDIS_URL,
    ROOT,
    base_config,
    empty_database,
    make_user,
    sandbox_api,
    wait_until,
)
from tests.integration.test_scheduler_processes import (
    FAST,
    PATIENCE,
    QUICK,
    airflow_runs,
    assert_one_dag_run_per_fire,
    make_task,
    register_sandbox,
    task_runs,
)

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.redis]

WEB_WORKERS = 4
SCHEDULERS = 2
TASKS = 3
MINUTES = 3
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Answer:
    status: int
    pid: int
    body: str
    location: str


@dataclass
class Browser:
    """One cookie jar; every request on a new connection (so any gunicorn worker may answer)."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode(errors="replace")
            for raw in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(raw).items():
                    self.cookies[name] = morsel.value
            pid = int(response.headers["X-Worker-Pid"])
            return Answer(response.status, pid, text, response.headers["Location"] or "")
        finally:
            conn.close()

    def csrf(self, path: str = "/login") -> str:
        match = CSRF_RE.search(self.request("GET", path).body)
        assert match, f"no CSRF token on {path}"
        return match.group(1) or match.group(2)

    def sign_in(self, email: str, password: str = PASSWORD) -> Answer:
        return self.request("POST", "/login", {"email": email, "password": password, "csrf_token": self.csrf()})


def on_every_worker(workers: set[int], ask: Any, check: Any, what: str) -> int:
    """Ask until every web worker has answered, checking each answer; returns the requests made."""
    seen: set[int] = set()
    for count in itertools.count(1):
        answer = ask()
        assert check(answer), f"{what}: worker {answer.pid} answered {answer.status} {answer.body[:300]}"
        seen.add(answer.pid)
        if seen >= workers:
            return count
        if count >= 400:
            pytest.fail(f"{what}: only workers {sorted(seen)} of {sorted(workers)} answered in {count} requests")
    raise AssertionError("unreachable")


class Cluster:
    """The console's processes on one PostgreSQL database and one Redis; all stopped at the end."""

    def __init__(self, database_url: str, logs: Path) -> None:
        self.logs = logs
        self.port = free_port()
        self.prefix = f"console-scale-{uuid.uuid4().hex[:8]}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
        self.env.update(
            CONSOLE_SECRET_KEY=base_config("")["SECRET_KEY"],
            CONSOLE_SECURITY_PASSWORD_SALT=base_config("")["SECURITY_PASSWORD_SALT"],
            CONSOLE_DATABASE_URL=database_url,
            CONSOLE_REDIS_URL=REDIS_URL,
            CONSOLE_CACHE_KEY_PREFIX=f"{self.prefix}:",
            CONSOLE_JOBS_QUEUE_NAME=self.prefix,
            CONSOLE_SESSION_COOKIE_SECURE="false",
            CONSOLE_REMEMBER_COOKIE_SECURE="false",
            CONSOLE_LOGIN_RATE_LIMIT_PER_MINUTE="1000",  # the per-account delay is what is tested
            PYTHONUNBUFFERED="1",
        )
        self.env.update({f"CONSOLE_{key}": str(value) for key, value in FAST.items()})
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *command: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (outlives this call)
        proc = subprocess.Popen(
            [sys.executable, *command], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.started[name] = proc
        return proc

    def start_web(self, workers: int = WEB_WORKERS, wsgi: str = "tests.pid_wsgi:app") -> None:
        self.start(
            "web",
            *("-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}"),
            *("--timeout", "120", "--graceful-timeout", "10", "--no-control-socket", wsgi),
        )

    def start_all(self) -> None:
        self.start_web()
        for n in range(SCHEDULERS):
            self.start(f"scheduler-{n}", "manage.py", "scheduler")
        self.start("worker", "manage.py", "worker", "--workers", "1")

    def web_pids(self) -> set[int]:
        """The gunicorn workers' pids (children of the arbiter)."""
        arbiter = self.started["web"].pid
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(arbiter)], capture_output=True, text=True).stdout
        return {int(p) for p in out.split()}

    def stop_all(self) -> None:
        for name, proc in self.started.items():
            if proc.poll() is None:  # the job worker (Huey) stops cleanly on SIGINT
                proc.send_signal(signal.SIGINT if name == "worker" else signal.SIGTERM)
        for proc in self.started.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        server = redis.Redis.from_url(REDIS_URL)
        keys = [*server.scan_iter(f"{self.prefix}*"), *server.scan_iter(f"*{self.prefix}*")]
        if keys:
            server.delete(*set(keys))
        server.close()

    def log_of(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def airflow(airflow_sandbox: Any) -> AirflowClient:
    client = sandbox_api(airflow_sandbox, "scale-out-tests")
    if client.get_dag(QUICK).is_paused:
        client.set_paused(QUICK, False)
    return client


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[tuple[Flask, Cluster]]:
    app = create_app(base_config(pg_url))
    procs = Cluster(pg_url, tmp_path)
    yield app, procs
    procs.stop_all()
    empty_database(app)
    with app.app_context():
        db.engine.dispose()


def test_four_web_workers_two_schedulers_and_a_job_worker_behave_as_one(
    cluster: tuple[Flask, Cluster], airflow_sandbox: Any, airflow: AirflowClient
) -> None:
    app, procs = cluster
    server_id = register_sandbox(app, airflow_sandbox)
    made = [make_task(app, server_id, "* * * * *") for _ in range(TASKS)]
    make_user(app, "admin@example.com", "admin")
    make_user(app, "viewer@example.com", "viewer")
    procs.start_all()
    workers = wait_until(
        lambda: procs.web_pids() if len(procs.web_pids()) == WEB_WORKERS else None, PATIENCE, "4 web workers"
    )
    browser = Browser(procs.port)
    wait_until(lambda: _answers(browser), PATIENCE, "gunicorn to answer")

    # Signed in through one worker, signed in on all.
    signed = browser.sign_in("admin@example.com")
    assert signed.status == 302, procs.log_of("web")
    home_requests = on_every_worker(
        workers,
        lambda: browser.request("GET", "/admin/"),
        lambda a: a.status == 200 and "admin@example.com" in a.body,
        "the admin's session",
    )

    # The sign-in delay counted through the workers holds on every one of them.
    stranger = Browser(procs.port)
    for _ in range(int(app.config["LOGIN_MAX_FAILURES"])):
        assert stranger.sign_in("viewer@example.com", "wrong password!!").status == 200  # the form again
    refused = on_every_worker(
        workers,
        lambda: stranger.sign_in("viewer@example.com"),  # the right password, refused while the delay runs
        lambda a: "Too many failed attempts" in a.body,
        "the sign-in delay",
    )

    # The job worker runs on the same database and queue.
    wait_until(lambda: _worker_beats(app), PATIENCE, "the job worker's heartbeat")

    # Every task fires once a minute, for three minutes, whichever scheduler leads.
    wait_until(
        lambda: all(len([r for r in task_runs(app, t) if r.triggered_at]) >= MINUTES for t, _ in made),
        PATIENCE,
        f"{MINUTES} fires of every task",
    )

    # A change made through one worker is seen by all: disable the tasks through the web.
    for task_id, _ in made:
        token = browser.csrf("/admin/tasks/")
        done = browser.request(
            "POST", "/admin/tasks/action/", {"action": "disable", "rowid": str(task_id), "csrf_token": token}
        )
        assert done.status == 302, done.body[:500]
    seen_disabled = on_every_worker(
        workers,
        lambda: browser.request("GET", f"/admin/tasks/details/?id={made[0][0]}"),
        lambda a: a.status == 200 and 'enabled-badge">disabled' in a.body.replace("align-middle ", ""),
        "the disabled task",
    )
    with app.app_context():
        assert not any(db.session.get(Task, t).enabled for t, _ in made)
    wait_until(
        lambda: all(r.state != "pending" for t, _ in made for r in task_runs(app, t)), PATIENCE, "every fire triggered"
    )
    procs.stop_all()
    for name, proc in procs.started.items():
        assert proc.returncode == 0, f"{name} exited {proc.returncode}: {procs.log_of(name)}"

    fires = duplicates = 0
    for task_id, prefix in made:
        runs = assert_one_dag_run_per_fire(app, airflow, task_id, prefix)
        minutes = [r.scheduled_for for r in task_runs(app, task_id)]
        duplicates += len(minutes) - len(set(minutes))
        gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(minutes)}
        assert gaps == {60.0}, f"a fire of task {task_id} was lost or doubled: {minutes}"
        assert all(r.state in ("triggered", "success", "failed") for r in runs)
        fires += len(runs)
    assert duplicates == 0 and fires >= TASKS * MINUTES
    print(
        f"[scale-out] {fires} fires checked, 0 duplicates, 0 lost; session on {len(workers)} workers "
        f"({home_requests} requests), delay on all ({refused} refused), change seen ({seen_disabled} requests)"
    )


def _answers(browser: Browser) -> bool:
    try:
        return browser.request("GET", "/login").status == 200
    except OSError:
        return False


def _replaced(procs: Cluster, before: set[int]) -> set[int] | None:
    pids = procs.web_pids()
    return pids if len(pids) == len(before) and pids != before else None


def _worker_beats(app: Flask) -> bool:
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(WorkerHeartbeat))
        db.session.remove()
        return bool(count)


def test_a_web_worker_killed_mid_request_leaves_the_run_triggered_exactly_once(
    cluster: tuple[Flask, Cluster], airflow_sandbox: Any, airflow: AirflowClient, tmp_path: Path
) -> None:
    """ "Run now" through a worker that dies by SIGKILL as Airflow accepts the run (``tests/crash_mid_request.py``):
    gunicorn replaces the worker, the session holds, and the scheduler settles the run once (409)."""
    app, procs = cluster
    procs.env["CONSOLE_TEST_CRASH_MARKER"] = str(tmp_path / "crashed")
    task_id, prefix = make_task(app, register_sandbox(app, airflow_sandbox), "0 0 1 1 *")  # only "Run now" fires
    make_user(app, "operator@example.com", "operator")
    procs.start_web(workers=2, wsgi="tests.crash_mid_request:app")
    before = wait_until(lambda: procs.web_pids() if len(procs.web_pids()) == 2 else None, PATIENCE, "2 web workers")
    browser = Browser(procs.port)
    wait_until(lambda: _answers(browser), PATIENCE, "gunicorn to answer")
    assert browser.sign_in("operator@example.com").status == 302
    token = browser.csrf(f"/admin/tasks/details/?id={task_id}")
    with pytest.raises(ConnectionError):  # the worker died mid-request: no answer
        browser.request("POST", f"/admin/tasks/run_now/{task_id}", {"csrf_token": token})
    assert (tmp_path / "crashed").exists()
    after = wait_until(lambda: _replaced(procs, before), PATIENCE, "gunicorn to replace the dead worker")
    on_every_worker(
        after,
        lambda: browser.request("GET", "/admin/"),
        lambda a: a.status == 200 and "operator@example.com" in a.body,
        "the session after the crash",
    )
    (run,) = task_runs(app, task_id)
    assert (run.state, run.triggered_at) == ("pending", None)  # recorded before the call; its outcome was not
    assert [r.run_id for r in airflow_runs(airflow, run.dag_run_id)] == [run.dag_run_id]  # Airflow has it
    procs.start("scheduler-0", "manage.py", "scheduler")
    (done,) = wait_until(
        lambda: [r for r in task_runs(app, task_id) if r.triggered_at], PATIENCE, "the scheduler to settle the run"
    )
    assert (done.id, done.error, done.requested_by) == (run.id, None, "operator@example.com")
    assert [r.run_id for r in airflow_runs(airflow, prefix)] == [run.dag_run_id]  # exactly once
