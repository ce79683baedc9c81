"""gunicorn settings for the console's web workers (``gunicorn -c deploy/gunicorn.conf.py``).

Every value can be overridden by an environment variable (``GUNICORN_WORKERS``,
``GUNICORN_THREADS``, ``GUNICORN_BIND``, ``GUNICORN_TIMEOUT``, ``GUNICORN_GRACEFUL_TIMEOUT``,
``GUNICORN_KEEPALIVE``, ``GUNICORN_MAX_REQUESTS``). Prometheus' multiprocess mode needs
``PROMETHEUS_MULTIPROC_DIR``: when unset, a fresh directory is made for this server;
either way it is emptied at start, and each dead worker's gauges are dropped.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def default_workers(cpus: int | None = None) -> int:
    """2 x CPUs + 1, at most 12: Airflow calls wait on the network, threads absorb the rest."""
    return min(2 * (cpus or os.cpu_count() or 1) + 1, 12)


wsgi_app = "console:create_app()"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = _int("GUNICORN_WORKERS", default_workers())
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread"
# A request slower than this is killed (the log read's own timeout is 60 s).
timeout = _int("GUNICORN_TIMEOUT", 90)
# On SIGTERM, running requests get this long to finish before workers are killed.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle a worker after this many requests (jittered), bounding slow memory growth.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
accesslog = "-"  # stdout
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" id=%({x-request-id}o)s'
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "airflow-console"

_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="console-metrics-")
Path(_metrics_dir).mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir  # read by prometheus-client at import, in the workers


def on_starting(server: Any) -> None:
    """Start with an empty metrics directory: files of a previous run would be added up."""
    for child in Path(_metrics_dir).iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """A worker died or was recycled: its live gauges must no longer count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
