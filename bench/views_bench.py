"""The DAG list and the home page through gunicorn over HTTP, next to Airflow's own UI endpoints.

``python -m bench views --dags 1000`` (part of ``make bench``), against the benchmark sandbox
(:mod:`bench.seed`: N generated DAGs, 20 historical runs each).  In one run:

1. the console's DAG list (first page) and home page, cold (the shared Redis cache flushed
   before each request) and warm (the request right after a cold one), p50 and p95, through
   ``gunicorn --workers 4 --threads 4 'console:create_app()'`` (the Dockerfile's command) with
   a viewer signed in through the real sign-in form;
2. the endpoints Airflow's React UI calls to draw the same views, with a JWT from
   ``/auth/token``, added up per view (:data:`AIRFLOW_VIEWS`);
3. Airflow calls per cold console view, counted by a reverse proxy between the console and
   Airflow (:mod:`bench.proxy`); the token request is listed apart;
4. requests per second and p95 with 32 clients in another process (:mod:`bench.load`), still
   through the proxy, which counts the Airflow calls the load caused.

Writes ``bench/results/views-<N>.json``; the printed table shows the call counts of the other
DAG count too when its file exists.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import seed
from bench.http import AirflowHttp, ConsoleHttp
from bench.proxy import CountingProxy
from bench.stats import ratio, summary_ms

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
VIEWER = ("bench-viewer@example.com", "bench viewer password 123")
TOKEN_CALL = "POST /auth/token"
CONSOLE_VIEWS = {"DAG list": "/admin/dags/", "home": "/admin/"}


def airflow_views() -> dict[str, list[str]]:
    """What Airflow 3.3's UI requests to draw each view (its dashboard's default range: 24 h)."""
    now = datetime.now(UTC).replace(microsecond=0)
    start = (now - timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    return {
        "DAG list": [
            "/ui/dags?limit=50&offset=0&order_by=dag_display_name&exclude_stale=true",
            "/api/v2/dagTags?limit=50&offset=0&order_by=name",
        ],
        "home": [
            f"/ui/dashboard/historical_metrics_data?start_date={start}",
            "/ui/dashboard/dag_stats",
            "/api/v2/monitor/health",
        ],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:  # not up yet
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {timeout:.0f} s")
        time.sleep(0.2)


class Redis:
    """A private redis-server on a Unix socket: the console's shared cache, flushed for "cold"."""

    def __init__(self, folder: Path) -> None:
        self.socket = folder / "redis.sock"
        self.url = f"unix://{self.socket}?db=0"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Redis:
        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", str(self.socket), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        self.client = redis.Redis(unix_socket_path=str(self.socket))
        wait_for(self.client.ping, "redis-server")
        return self

    def flush(self) -> None:
        self.client.flushdb()

    def __exit__(self, *exc: object) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)


class Gunicorn:
    """``gunicorn --workers 4 --threads 4 'console:create_app()'`` on a free loopback port."""

    def __init__(self, env: dict[str, str], log: Path, workers: int = 4) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env, self.log, self.workers = env, log, workers

    def __enter__(self) -> Gunicorn:
        argv = [str(BIN / "gunicorn"), "--workers", str(self.workers), "--threads", "4"]
        argv += ["--bind", f"127.0.0.1:{self.port}", "console:create_app()"]
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        probe = ConsoleHttp(self.url)
        wait_for(lambda: probe.request("GET", "/login").status == 200, f"gunicorn (log: {self.log})")
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(30)


def console_env(folder: Path, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
    env.update(
        CONSOLE_SECRET_KEY=secrets.token_urlsafe(48),
        CONSOLE_DATABASE_URL=f"sqlite:///{folder / 'console.db'}",
        CONSOLE_CACHE_REDIS_URL=redis_url,
        CONSOLE_CACHE_KEY_PREFIX="bench:",
        PYTHONUNBUFFERED="1",
    )
    return env


def prepare_database(env: dict[str, str], airflow_url: str, status: Any) -> Any:
    """Migrate the console's database, create the viewer and register the sandbox; returns a
    function that points the registered server at another URL (the counting proxy)."""
    from bench.scheduler_bench import make_app
    from console.extensions import db
    from console.services.servers import register_server
    from console.services.users import create_user

    app = make_app(env["CONSOLE_DATABASE_URL"], env["CONSOLE_SECRET_KEY"])

    def point_at(url: str) -> None:
        with app.app_context():
            register_server(name="bench", base_url=url, username=status.username, secret=status.password)
            db.session.commit()

    with app.app_context():
        create_user(VIEWER[0], "viewer", VIEWER[1])
        db.session.commit()
    point_at(airflow_url)
    return point_at


def measure_latency(console: ConsoleHttp, airflow: AirflowHttp, redis: Redis, repeat: int) -> dict[str, Any]:
    """Interleaved: Airflow's calls for the view (added up), then a cold and a warm console request."""
    out: dict[str, Any] = {}
    for view, path in CONSOLE_VIEWS.items():
        calls = airflow_views()[view]
        for _ in range(3):  # connections, tokens, imports
            redis.flush()
            console.get(path)
            sum(airflow.get(c) for c in calls)
        upstream, cold, warm = [], [], []
        for _ in range(repeat):
            upstream.append(sum(airflow.get(c) for c in calls))
            redis.flush()
            cold.append(console.get(path))
            warm.append(console.get(path))
        out[view] = {
            "console_path": path,
            "airflow_calls": calls,
            "airflow": summary_ms(upstream),
            "cold": summary_ms(cold),
            "warm": summary_ms(warm),
        }
        print(f"  {view}: Airflow {out[view]['airflow']}, cold {out[view]['cold']}, warm {out[view]['warm']}")
    return out


def count_calls(console: ConsoleHttp, redis: Redis, proxy: CountingProxy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for view, path in CONSOLE_VIEWS.items():
        tallies: list[Counter[str]] = []
        for _ in range(3):
            redis.flush()
            proxy.take()
            console.get(path)
            tallies.append(proxy.take())
        token = max(t[TOKEN_CALL] for t in tallies)
        per_view = [sum(n for k, n in t.items() if k != TOKEN_CALL) for t in tallies]
        last = {k: n for k, n in tallies[-1].items() if k != TOKEN_CALL}
        out[view] = {"calls": max(per_view), "per_request": per_view, "token_calls": token, "by_endpoint": last}
        print(f"  {view}: {per_view} Airflow calls per cold view ({last})")
    return out


def measure_load(url: str, cookie: str, clients: int, seconds: float, proxy: CountingProxy) -> dict[str, Any]:
    """Each view under load from a process of its own, with the Airflow calls it caused (the
    cache's misses: entries expire during the run)."""
    out = {}
    for view, path in CONSOLE_VIEWS.items():
        argv = [sys.executable, "-m", "bench.load", url, path, "--cookie", cookie]
        argv += ["--clients", str(clients), "--seconds", str(seconds)]
        proxy.take()
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
        out[view] = json.loads(done.stdout.strip().splitlines()[-1])
        out[view]["airflow_calls"] = sum(n for k, n in proxy.take().items() if k != TOKEN_CALL)
        print(f"  {view}: {out[view]}")
    return out


def run(dags: int, port: int, repeat: int, clients: int, seconds: float, keep: bool) -> dict[str, Any]:
    from console.airflow import sandbox

    was_running = sandbox.status(seed.settings(port)).running
    status = seed.ensure(dags, port)
    try:
        airflow_url = f"http://127.0.0.1:{port}"
        airflow = AirflowHttp(airflow_url, status.username, status.password)
        version = airflow.get_json("/api/v2/version")["version"]
        runs = airflow.get_json("/api/v2/dags/~/dagRuns?limit=1")["total_entries"]
        with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp, Redis(Path(tmp)) as redis:
            env = console_env(Path(tmp), redis.url)
            point_at = prepare_database(env, airflow_url, status)
            with Gunicorn(env, Path(tmp) / "gunicorn.log") as web, CountingProxy(airflow_url) as proxy:
                console = ConsoleHttp(web.url)
                console.log_in(*VIEWER)
                print(f"Latency, {repeat} requests each (console on {web.url}, 4 workers x 4 threads):")
                latency = measure_latency(console, airflow, redis, repeat)
                print("Airflow calls per cold view (through the counting proxy):")
                point_at(proxy.url)
                calls = count_calls(console, redis, proxy)
                print(f"Load: {clients} clients for {seconds:.0f} s per view, from another process:")
                load = measure_load(web.url, console.cookie_header, clients, seconds, proxy)
    finally:
        if not was_running and not keep:
            seed.stop(port)
    return {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
        "airflow_version": version,
        "dags": dags,
        "dag_runs": runs,
        "repeat": repeat,
        "views": {
            view: {**latency[view], **calls[view], "load": load[view]}
            | {
                "warm_ratio_p95": ratio(latency[view]["warm"]["p95_ms"], latency[view]["airflow"]["p95_ms"]),
                "cold_ratio_p95": ratio(latency[view]["cold"]["p95_ms"], latency[view]["airflow"]["p95_ms"]),
            }
            for view in CONSOLE_VIEWS
        },
    }


def main(argv: list[str] | None = None) -> int:
    from bench.report import print_views, write_views

    parser = argparse.ArgumentParser(prog="python -m bench views", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dags", type=int, default=1000, help="generated DAGs in the bench sandbox (default 1000)")
    parser.add_argument("--port", type=int, default=seed.DEFAULT_PORT, help="the bench sandbox's port")
    parser.add_argument("--repeat", type=int, default=50, help="requests per measurement (default 50)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients of the load test")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds of load per view")
    parser.add_argument("--keep-sandbox", action="store_true", help="leave a sandbox this run started running")
    args = parser.parse_args(argv)
    result = run(args.dags, args.port, args.repeat, args.clients, args.seconds, args.keep_sandbox)
    write_views(result, RESULTS)
    print_views(result, RESULTS)
    return 0
