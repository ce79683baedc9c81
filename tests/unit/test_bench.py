"""The benchmark's pure parts: percentiles, the table, the seeder's plan and the counting proxy
(in front of a tiny local HTTP server; no Airflow, no timing)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import urllib3

from bench import seed
from bench.proxy import CountingProxy
from bench.report import calls_by_size, views_rows, write_views
from bench.stats import format_table, percentile, summary_ms


def test_percentile_interpolates_between_ranks() -> None:
    samples = [4.0, 1.0, 3.0, 2.0, 5.0]
    assert (percentile(samples, 0.0), percentile(samples, 0.5), percentile(samples, 1.0)) == (1.0, 3.0, 5.0)
    assert percentile([0.0, 10.0], 0.95) == pytest.approx(9.5)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)


def test_summary_is_in_milliseconds() -> None:
    assert summary_ms([0.010] * 19 + [0.030]) == {"p50_ms": 10.0, "p95_ms": 11.0, "n": 20}


def test_table_pads_columns() -> None:
    text = format_table(["view", "ms"], [["home", "5"], ["DAG list", "120"]])
    assert text.splitlines() == ["view       ms", "--------  ---", "home        5", "DAG list  120"]


def result(dags: int, calls: int, warm_p95: float = 5.0) -> dict:
    view = {
        "airflow": {"p50_ms": 40.0, "p95_ms": 50.0},
        "cold": {"p50_ms": 60.0, "p95_ms": 70.0},
        "warm": {"p50_ms": 4.0, "p95_ms": warm_p95},
        "warm_ratio_p95": round(warm_p95 / 50.0, 2),
        "cold_ratio_p95": 1.4,
        "calls": calls,
        "load": {"rps": 200.0, "p95_ms": 180.0, "airflow_calls": 14},
    }
    return {"dags": dags, "views": {"home": view}}


def test_the_table_marks_targets_and_compares_call_counts_of_both_sizes(tmp_path: Path) -> None:
    write_views(result(100, 7), tmp_path)
    current = result(1000, 7, warm_p95=20.0)
    rows = views_rows(current, calls_by_size(current, tmp_path))
    expected = ["home", "40 / 50", "60 / 70", "1.40x ok", "4.0 / 20.0", "0.40x MISS", "7 / 7 ok", "200", "180", "14"]
    assert rows == [expected]


def test_calls_that_grow_with_the_dags_are_a_miss(tmp_path: Path) -> None:
    write_views(result(100, 7), tmp_path)
    current = result(1000, 12)
    assert views_rows(current, calls_by_size(current, tmp_path))[0][6] == "7 / 12 MISS"


def test_seeded_runs_are_a_mix_over_the_last_week() -> None:
    now = datetime(2026, 1, 8, tzinfo=UTC)
    runs = seed.planned_runs(50, now)
    assert len(runs) == 50 * seed.RUNS_PER_DAG
    assert len({(d, r) for d, r, *_ in runs}) == len(runs)
    assert {s for _, _, s, _, _ in runs} == {"success", "failed"}
    assert all(now - timedelta(days=7, minutes=11) <= start < end <= now for *_, start, end in runs)


def test_dag_files_are_rewritten_only_when_missing_and_extra_ones_removed(tmp_path: Path) -> None:
    assert seed.write_dag_files(tmp_path, 3) == 3
    assert seed.write_dag_files(tmp_path, 3) == 0
    assert seed.write_dag_files(tmp_path, 2) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench_0000.py", "bench_0001.py"]
    assert 'dag_id="bench_0001"' in (tmp_path / "bench_0001.py").read_text()


@pytest.fixture
def upstream() -> Iterator[str]:
    class Echo(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = f"{self.command} {self.path} {self.headers.get('Authorization')}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_counting_proxy_forwards_and_counts_by_method_and_path(upstream: str) -> None:
    http = urllib3.PoolManager()
    with CountingProxy(upstream) as proxy:
        first = http.request("GET", proxy.url + "/api/v2/dags?limit=1", headers={"Authorization": "Bearer t"})
        http.request("GET", proxy.url + "/api/v2/dags?limit=50")
        http.request("POST", proxy.url + "/auth/token", body=b"{}")
        counts = proxy.take()
        assert proxy.take() == {}
    assert first.data == b"GET /api/v2/dags?limit=1 Bearer t"
    assert counts == {"GET /api/v2/dags": 2, "POST /auth/token": 1}


def test_seeding_runs_and_task_instances_is_idempotent(tmp_path: Path) -> None:
    database = tmp_path / "airflow.db"
    con = sqlite3.connect(database)
    con.executescript(
        "CREATE TABLE dag_version (id TEXT, dag_id TEXT, created_at TEXT);"
        "CREATE TABLE dag_run (id INTEGER PRIMARY KEY, dag_id TEXT, run_id TEXT, state TEXT, start_date TEXT,"
        " end_date TEXT, created_dag_version_id TEXT, UNIQUE (dag_id, run_id));"
        "CREATE TABLE task_instance (id TEXT PRIMARY KEY, task_id TEXT, dag_id TEXT, run_id TEXT, state TEXT);"
        "INSERT INTO dag_version VALUES ('v1', 'bench_0000', '2026-01-01');"
    )
    con.close()
    assert seed.seed_runs(database, 2) == 2 * seed.RUNS_PER_DAG
    assert seed.seed_task_instances(database) == 2 * 2 * seed.RUNS_PER_DAG
    assert (seed.seed_runs(database, 2), seed.seed_task_instances(database)) == (0, 0)
    con = sqlite3.connect(database)
    failed_loads = con.execute(
        "SELECT count(*) FROM task_instance t JOIN dag_run r USING (dag_id, run_id) "
        "WHERE r.state = 'failed' AND t.task_id = 'load' AND t.state = 'failed'"
    ).fetchone()[0]
    failed_runs = con.execute("SELECT count(*) FROM dag_run WHERE state = 'failed'").fetchone()[0]
    versions = {
        v for (v,) in con.execute("SELECT DISTINCT created_dag_version_id FROM dag_run WHERE dag_id = 'bench_0000'")
    }
    con.close()
    assert failed_runs > 0
    assert failed_loads == failed_runs
    assert versions == {"v1"}


def test_the_bench_sandbox_is_its_own_and_parses_its_files_rarely() -> None:
    from console.airflow.sandbox import SandboxSettings, airflow_env

    env = airflow_env(seed.settings(28094))
    plain = airflow_env(SandboxSettings.in_checkout(seed.ROOT, port=28094))
    assert seed.settings(28094).home == seed.ROOT / ".sandbox-bench" / "home-28094"
    assert env["AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL"] == "3600"
    assert plain["AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL"] == "10"


def test_bench_help_and_an_unknown_part_run_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.__main__ import main

    assert main(["--help"]) == 0
    assert "python -m bench [views" in capsys.readouterr().out
    assert main(["viewz"]) == 2
    assert "unknown benchmark 'viewz'" in capsys.readouterr().err


def test_the_audit_bench_seeds_searchable_rows_and_its_pages_answer(tmp_path: Path) -> None:
    """``bench audit`` on 300 rows: the raw seed goes through the search index, every page answers 200."""
    from flask_migrate import upgrade

    from bench import audit_bench

    path = tmp_path / "audit.db"
    app = audit_bench.make_app(path)
    with app.app_context():
        upgrade()
    now = datetime(2026, 12, 1, 12, 0)
    with sqlite3.connect(path) as conn:
        migrated = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name").fetchall()
    audit_bench.seed_rows(path, 300, now)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM audit_event").fetchone() == (300,)
        hits = conn.execute("SELECT count(*) FROM audit_event_fts WHERE audit_event_fts MATCH 'bench'").fetchone()
        assert hits == (300,)  # the detail column of every row, indexed by the rebuild
        triggers = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name").fetchall()
        assert len(migrated) >= 3 and triggers == migrated  # every trigger put back after the load
    client = audit_bench.signed_in_client(app)
    for url in audit_bench.pages(300, now).values():
        assert audit_bench.timed(client, url, 1)["n"] == 1
    _took, size, rows = audit_bench.export_csv(client)
    with sqlite3.connect(path) as conn:  # the 300 seeded, and the bench admin's creation and sign-in
        (total,) = conn.execute("SELECT count(*) FROM audit_event").fetchone()
    assert total > 300 and rows == total and size > 0
