"""DAG screens benchmark: the console's DAG detail and log pages next to Airflow's own API (the
DAG list and home page: ``bench/views_bench.py``, through gunicorn).

Runs against the benchmark sandbox (started if needed) in one process: Airflow's
REST API is called directly with the same client the console uses, and the
console's pages are requested through Flask's test client (rendering included,
no network hop), so each ratio is "console page / the Airflow call(s) behind it".
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.scheduler_bench import ROOT, make_app, start_sandbox
from tests.conftest import wait_for_run

RESULTS = Path(__file__).resolve().parent / "results" / "dags.json"
SECRET = "bench-secret-key-0123456789abcdef0123456789abcdef"
LARGE_LOG_DAG = "example_large_log"


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def finished_large_log_run(client: Any) -> str:
    """A finished run of the 50,000-line DAG (triggered now if there is none)."""
    for run in client.list_dag_runs(LARGE_LOG_DAG, limit=10):
        if run.state == "success":
            return str(run.run_id)
    run_id = f"bench__{uuid.uuid4().hex[:8]}"
    client.trigger_dag_run(LARGE_LOG_DAG, run_id=run_id)
    if wait_for_run(client, LARGE_LOG_DAG, run_id, timeout=300).state != "success":
        raise RuntimeError("the large-log run failed")
    return run_id


def signed_in(app: Any) -> Any:
    from console.extensions import db
    from console.services.users import create_user

    with app.app_context():
        create_user("bench@example.com", "viewer", "bench password 123")
        db.session.commit()
    web = app.test_client()
    page = web.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    web.post("/login", data={"email": "bench@example.com", "password": "bench password 123", "csrf_token": token})
    return web


def run(port: int, repeat: int) -> dict[str, Any]:
    """Measure against the sandbox on ``port``; a sandbox this run started is stopped again."""
    from console.airflow import sandbox

    settings = sandbox.SandboxSettings.in_checkout(ROOT, port=port)
    was_running = sandbox.status(settings).running
    try:
        return measure(port, repeat)
    finally:
        if not was_running:
            sandbox.stop(settings, log=lambda msg: print(f"  {msg}"))


def measure(port: int, repeat: int) -> dict[str, Any]:
    from console.airflow.client import AirflowClient
    from console.extensions import cache, db
    from console.services.log_cache import log_memory
    from console.services.servers import register_server

    status = start_sandbox(port)
    airflow = AirflowClient(status.base_url, username=status.username, password=status.password, read_timeout=60)
    run_id = finished_large_log_run(airflow)
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(f"sqlite:///{tmp}/bench.db", SECRET)
        app.config.update(CACHE_TYPE="SimpleCache")
        with app.app_context():
            server = register_server(
                name="sandbox", base_url=status.base_url, username=status.username, secret=status.password
            )
            db.session.commit()
            sid = server.id
        web = signed_in(app)

        def uncached(path: str) -> Callable[[], Any]:
            def call() -> Any:
                with app.app_context():
                    cache.clear()  # the read cache (Airflow answers, shared logs) ...
                    log_memory().cache.clear()  # ... and this process's parsed logs
                response = web.get(path)
                assert response.status_code == 200, (path, response.status_code)

            return call

        log_path = f"/admin/dags/{sid}/{LARGE_LOG_DAG}/runs/{run_id}/tasks/spam/logs/1/lines"
        rows = {
            "DAG detail": (
                p50(
                    timed(
                        lambda: (airflow.get_dag_details(LARGE_LOG_DAG), airflow.list_dag_runs(LARGE_LOG_DAG)), repeat
                    )
                ),
                p50(timed(uncached(f"/admin/dags/{sid}/{LARGE_LOG_DAG}/details"), repeat)),
                None,
            ),
            "50,000-line log, one page": (
                p50(timed(lambda: airflow.get_log(LARGE_LOG_DAG, run_id, "spam", 1, read_timeout=60), 3)),
                p50(timed(uncached(log_path + "?offset=0"), 3)),
                p50(timed(lambda: web.get(log_path + "?offset=25000"), repeat)),
            ),
        }
    table = {
        name: {
            "airflow_api_s": round(api, 4),
            "console_uncached_s": round(first, 4),
            "console_cached_s": None if cached is None else round(cached, 4),
            "ratio_uncached": round(first / api, 2),
            "ratio_cached": None if cached is None else round(cached / api, 3),
        }
        for name, (api, first, cached) in rows.items()
    }
    return {"airflow_version": airflow.version().get("version"), "repeat": repeat, "pages": table}


def print_table(result: dict[str, Any]) -> None:
    print(f"\nDAG screens vs Airflow {result['airflow_version']} API (median of {result['repeat']}):")
    print(f"{'page':28} {'Airflow API':>12} {'console':>10} {'ratio':>7} {'cached':>10} {'ratio':>7}")
    for name, row in result["pages"].items():
        cached = "-" if row["console_cached_s"] is None else f"{row['console_cached_s'] * 1000:.1f} ms"
        ratio_c = "-" if row["ratio_cached"] is None else f"{row['ratio_cached']:.3f}"
        print(
            f"{name:28} {row['airflow_api_s'] * 1000:>9.1f} ms {row['console_uncached_s'] * 1000:>7.1f} ms "
            f"{row['ratio_uncached']:>7.2f} {cached:>10} {ratio_c:>7}"
        )


def main(port: int = 28091, repeat: int = 15) -> dict[str, Any]:
    result = run(port, repeat)
    print_table(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return result
