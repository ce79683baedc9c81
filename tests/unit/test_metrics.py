"""``/metrics``: who may read it, what it counts, and the numbers read from the database."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from console.extensions import db
from console.models import Job, SchedulerHeartbeat, SchedulerLease, Task, TaskRun
from console.models.timeutil import utcnow
from console.security import policy
from tests.conftest import ROOT, Auth, base_config

ALLOWED = "10.20.0.0/16"


def samples(body: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a text exposition, keyed by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def metrics_app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory(METRICS_ALLOWED_ADDRESSES=[ALLOWED])


def test_the_policy_names_metrics_for_admins_and_the_address_list() -> None:
    assert policy.POLICY["metrics.export"] == policy.ADMIN
    assert policy.ADDRESS_OPENED["metrics.export"] == "METRICS_ALLOWED_ADDRESSES"


def test_admin_reads_metrics(metrics_app: Flask) -> None:
    client = Auth(metrics_app, metrics_app.test_client())("admin")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    assert "console_http_requests_total" in response.get_data(as_text=True)


def test_viewer_is_refused(metrics_app: Flask) -> None:
    client = Auth(metrics_app, metrics_app.test_client())("viewer")
    response = client.get("/metrics")
    assert response.status_code == 403
    assert "console_http_requests_total" not in response.get_data(as_text=True)


def test_an_allowed_address_reads_without_signing_in(metrics_app: Flask) -> None:
    response = metrics_app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "10.20.3.4"})
    assert response.status_code == 200
    assert "console_metrics_database_up 1.0" in response.get_data(as_text=True)


@pytest.mark.parametrize("address", ["10.21.0.1", "127.0.0.1", "2001:db8::1"])
def test_other_addresses_are_refused(metrics_app: Flask, address: str) -> None:
    response = metrics_app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert b"console_" not in response.data


def test_a_forwarded_address_counts_only_through_a_trusted_proxy(app_factory: Callable[..., Flask]) -> None:
    spoofed = {"REMOTE_ADDR": "192.0.2.1"}
    headers = {"X-Forwarded-For": "10.20.0.9"}
    direct = app_factory(METRICS_ALLOWED_ADDRESSES=[ALLOWED])
    assert direct.test_client().get("/metrics", headers=headers, environ_base=spoofed).status_code == 302
    proxied = app_factory(METRICS_ALLOWED_ADDRESSES=[ALLOWED], TRUSTED_PROXY_COUNT=1)
    assert proxied.test_client().get("/metrics", headers=headers, environ_base=spoofed).status_code == 200


def test_requests_are_counted_by_endpoint_and_status(metrics_app: Flask) -> None:
    ok = value("console_http_requests_total", endpoint="health.healthz", method="GET", status="200")
    missing = value("console_http_requests_total", endpoint="none", method="GET", status="404")
    timed = value("console_http_request_duration_seconds_count", endpoint="health.healthz")
    client = metrics_app.test_client()
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    body = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.0.1"}).get_data(as_text=True)
    seen = samples(body)
    key = frozenset({"endpoint": "health.healthz", "method": "GET", "status": "200"}.items())
    assert seen[("console_http_requests_total", key)] == ok + 3
    assert seen[("console_http_request_duration_seconds_count", frozenset({"endpoint": "health.healthz"}.items()))] == (
        timed + 3
    )
    assert value("console_http_requests_total", endpoint="none", method="GET", status="404") == missing + 1


def test_sign_in_failures_are_counted(metrics_app: Flask) -> None:
    before = value("console_sign_in_failures_total", reason="bad-credentials")
    auth = Auth(metrics_app, metrics_app.test_client())
    Auth(metrics_app, metrics_app.test_client())("viewer")
    auth.login("viewer@example.com", "not the password!!")
    auth.login("nobody@example.com", "not the password!!")
    assert value("console_sign_in_failures_total", reason="bad-credentials") == before + 2


def test_scheduler_jobs_and_retries_are_read_from_the_database(metrics_app: Flask) -> None:
    now = utcnow()
    with metrics_app.app_context():
        from console.services import servers

        server = servers.register_server(name="m", base_url="http://127.0.0.1:9", username="u", secret="p")
        db.session.flush()
        task = Task(name="t", server_id=server.id, dag_id="d", cron="* * * * *")
        db.session.add(task)
        db.session.flush()
        db.session.add_all(
            [
                SchedulerLease(name="scheduler", holder="host-a:1", expires_at=now + timedelta(seconds=20)),
                SchedulerHeartbeat(instance_id="host-a:1", hostname="a", pid=1, is_leader=True, beat_at=now),
                SchedulerHeartbeat(instance_id="host-b:2", hostname="b", pid=2, beat_at=now - timedelta(seconds=40)),
                Job(uid="j1", kind="trigger", actor="x", state="queued"),
                Job(uid="j2", kind="trigger", actor="x", state="queued"),
                Job(uid="j3", kind="trigger", actor="x", state="failed"),
                TaskRun(task_id=task.id, scheduled_for=now - timedelta(minutes=2), dag_run_id="r1", attempts=2),
                TaskRun(
                    task_id=task.id,
                    scheduled_for=now - timedelta(minutes=1, seconds=4),
                    dag_run_id="r2",
                    state="triggered",
                    triggered_at=now - timedelta(minutes=1),
                ),
            ]
        )
        db.session.commit()
    body = metrics_app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "10.20.0.1"}).get_data(as_text=True)
    seen = samples(body)

    def get(name: str, **labels: str) -> float:
        return seen[(name, frozenset(labels.items()))]

    assert get("console_scheduler_leader", holder="host-a:1") == 1
    assert 0 < get("console_scheduler_lease_remaining_seconds") <= 20
    assert get("console_scheduler_heartbeat_age_seconds", instance="host-b:2", leader="false") >= 40
    assert get("console_scheduler_heartbeat_age_seconds", instance="host-a:1", leader="true") < 40
    assert get("console_scheduler_pending_retries") == 1
    assert get("console_scheduler_recent_fire_delay_seconds", stat="max") == pytest.approx(4.0)
    assert get("console_scheduler_recent_fire_delay_seconds", stat="count") == 1
    assert get("console_jobs", state="queued") == 2
    assert get("console_jobs", state="failed") == 1
    assert get("console_jobs", state="running") == 0


def test_metrics_are_added_up_across_processes(tmp_path: Path) -> None:
    """Multiprocess mode, as under gunicorn: two processes record, a third one's /metrics adds
    them up (and a process marked dead no longer counts in the live gauges)."""
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(ROOT)}
    record = textwrap.dedent(
        """
        from console.metrics import observe_airflow_call, observe_request
        for _ in range(3):
            observe_request("health.healthz", "GET", 200, 0.01)
        observe_airflow_call("sandbox", "get_dags", "success", 0.2)
        """
    )
    writers = [subprocess.Popen([sys.executable, "-c", record], env=env, cwd=ROOT) for _ in range(2)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    assert len(list(directory.glob("counter_*.db"))) == 2
    database = tmp_path / "console.db"
    read = textwrap.dedent(
        f"""
        from tests.conftest import base_config, build_app, migrate
        app = build_app(base_config({f"sqlite:///{database}"!r}, METRICS_ALLOWED_ADDRESSES=["10.0.0.0/8"]))
        migrate(app)
        print(app.test_client().get("/metrics", environ_base={{"REMOTE_ADDR": "10.0.0.1"}}).get_data(as_text=True))
        """
    )
    done = subprocess.run([sys.executable, "-c", read], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = samples(done.stdout)
    healthz = frozenset({"endpoint": "health.healthz", "method": "GET", "status": "200"}.items())
    assert seen[("console_http_requests_total", healthz)] == 6
    call = frozenset({"server": "sandbox", "endpoint": "get_dags", "outcome": "success"}.items())
    assert seen[("console_airflow_calls_total", call)] == 2
    timed = frozenset({"server": "sandbox", "endpoint": "get_dags"}.items())
    assert seen[("console_airflow_call_duration_seconds_sum", timed)] == pytest.approx(0.4)


def test_the_allow_list_is_validated() -> None:
    from console.config import ConfigError, validate_config

    config = {**_defaults(), **base_config("sqlite://")}
    validate_config({**config, "METRICS_ALLOWED_ADDRESSES": ["10.0.0.0/8", "::1"]})
    with pytest.raises(ConfigError, match="METRICS_ALLOWED_ADDRESSES"):
        validate_config({**config, "METRICS_ALLOWED_ADDRESSES": ["10.0.0.0/33"]})
    with pytest.raises(ConfigError, match="METRICS_ALLOWED_ADDRESSES"):
        validate_config({**config, "METRICS_ALLOWED_ADDRESSES": "10.0.0.0/8"})
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        validate_config({**config, "LOG_FORMAT": "xml"})


def _defaults() -> dict[str, object]:
    from console.config import DefaultConfig

    return {k: getattr(DefaultConfig, k) for k in dir(DefaultConfig) if k.isupper()}
