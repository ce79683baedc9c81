"""gunicorn with deploy/gunicorn.conf.py: several workers, one /metrics adding them all up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, wait_until

pytestmark = pytest.mark.integration
REQUESTS = 12


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), ""
    except OSError:
        return 0, {}, ""


def scrape(base: str, request_id: str) -> dict[frozenset[tuple[str, str]], float]:
    status, headers, body = get(f"{base}/metrics", {"X-Request-ID": request_id})
    assert status == 200 and headers["X-Request-ID"] == request_id
    return {
        frozenset(s.labels.items()): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == "console_http_requests_total"
    }


def test_workers_metrics_are_added_up(tmp_path: Path) -> None:
    database = tmp_path / "console.db"
    env = {
        **os.environ,
        "CONSOLE_SECRET_KEY": "gunicorn-test-secret-0123456789abcdef0123456789",
        "CONSOLE_DATABASE_URL": f"sqlite:///{database}",
        "CONSOLE_METRICS_ALLOWED_ADDRESSES": '["127.0.0.1/32"]',
        "CONSOLE_LOG_FORMAT": "json",
        "CONSOLE_JOBS_QUEUE_PATH": str(tmp_path / "jobs.db"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "GUNICORN_WORKERS": "3",
        "GUNICORN_THREADS": "1",
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    port = free_port()
    gunicorn = Path(sys.executable).parent / "gunicorn"
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 (outlives this block)
    proc = subprocess.Popen(
        [str(gunicorn), "--config", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: get(f"{base}/healthz")[0] == 200, 120, "gunicorn to answer")
        # Three workers: each records into its own file in PROMETHEUS_MULTIPROC_DIR.
        wait_until(
            lambda: len(list((tmp_path / "prometheus").glob("counter_*.db"))) >= 1, 30, "a worker's metrics file"
        )
        healthz = frozenset({"endpoint": "health.healthz", "method": "GET", "status": "200"}.items())
        before = scrape(base, "scrape-0")[healthz]
        statuses = [get(f"{base}/healthz")[0] for _ in range(REQUESTS)]
        assert statuses == [200] * REQUESTS
        # Every /healthz counted, whichever worker answered it.
        assert scrape(base, "scrape-1")[healthz] == before + REQUESTS
        pids = {int(p.stem.split("_")[-1]) for p in (tmp_path / "prometheus").glob("counter_*.db")}
        assert pids and proc.pid not in pids  # the workers write, the arbiter does not
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0  # graceful shutdown
        log.close()
    text = (tmp_path / "gunicorn.log").read_text(errors="replace")
    assert '"status": 200' in text and '"request_id": "scrape-1"' in text  # the JSON request line
    assert "id=scrape-1" in text  # gunicorn's access log carries the request id
