"""The audit log page with 1,000,000 audit events on SQLite.

``python -m bench audit [--rows N] [--samples N]`` (part of ``make bench``):

1. a fresh SQLite file, migrated with Alembic (the FTS5 index and its triggers included), and
   ``--rows`` events written with raw SQL (``executemany``, one transaction; the search index
   rebuilt once at the end, its triggers put back): 20 actors, 12 actions, 4 categories, 3 outcomes, 5
   servers, 2,000 DAGs, one event per 3 s back from now;
2. in-process through the Flask test client with an admin signed in (routing, the policy,
   the query and the template, no network): p50/p95 of the first page, a filtered page
   (server + outcome), a deep page (keyset ``before=`` near the oldest event), a time range,
   three searches (a common word, a rare word, a word prefix with a filter), a rare
   combination of four filters (a few rows per million: one index is walked, the others
   checked per row) and filters that match nothing;
3. the time to stream the whole CSV export (every row) and its size.

Writes ``bench/results/audit.json``; each page's p95 is also given as a ratio to the
unfiltered first page.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.stats import format_table, ratio, summary_ms, verdict

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
ADMIN = ("bench-admin@example.com", "bench admin password 123")
TARGET_P95_MS = 150.0
ACTORS = [f"person{n}@example.com" for n in range(17)] + ["system:scheduler", "system:cli", "system:worker"]
ACTIONS = ["trigger", "pause", "unpause", "clear", "mark", "update", "create", "delete", "sign_in",
           "sign_in_failed", "variable_update", "pool_update"]  # fmt: skip
CATEGORIES = ["airflow", "auth", "console", "system"]
SERVERS = ["prod", "staging", "eu-west", "us-east", "lab"]


def seed_rows(path: Path, rows: int, now: datetime) -> float:
    """Write ``rows`` events into the migrated database at ``path``; seconds taken."""
    rng = random.Random(7)
    started = time.perf_counter()
    first = now - timedelta(seconds=3 * rows)

    def make(n: int) -> tuple[Any, ...]:
        # Each field drawn on its own, so that no filter combination is empty by construction.
        dag = f"dag_{rng.randrange(2000):04d}"
        action = rng.choice(ACTIONS)
        roll = rng.random()
        outcome = "success" if roll < 0.95 else ("failed" if roll < 0.985 else "refused")
        change = action in ("update", "variable_update", "pool_update")
        return (
            (first + timedelta(seconds=3 * n)).isoformat(sep=" "),
            rng.choice(ACTORS),
            "10.0.0.1",
            rng.choice(CATEGORIES),
            action,
            "dag",
            dag,
            rng.choice(SERVERS),
            dag,
            None if outcome == "success" else f"error {rng.randrange(100)}: Airflow refused the request",
            outcome,
            '{"note": "bench"}',
            json.dumps({"slots": n % 7}) if change else None,
            json.dumps({"slots": n % 7 + 1}) if change else None,
        )

    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        # The search index is built once after the load (as the migration does for existing rows)
        # rather than row by row through its triggers, which are put back afterwards.
        triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
        for name, _sql in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        batch = 50_000
        for start in range(0, rows, batch):
            conn.executemany(
                "INSERT INTO audit_event (at, actor, remote_addr, category, action, object_type, object_id,"
                " server_name, dag_id, error, outcome, detail, before, after)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (make(n) for n in range(start, min(rows, start + batch))),
            )
        conn.execute("INSERT INTO audit_event_fts(audit_event_fts) VALUES ('rebuild')")
        for _name, sql in triggers:
            conn.execute(sql)
        conn.commit()
        conn.execute("ANALYZE")
    return time.perf_counter() - started


def make_app(path: Path) -> Any:
    import secrets

    from console import create_app

    return create_app(
        {
            "SECRET_KEY": secrets.token_urlsafe(48),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "SESSION_COOKIE_SECURE": False,
            "REMEMBER_COOKIE_SECURE": False,
            "CACHE_TYPE": "NullCache",
            "CACHE_NO_NULL_WARNING": True,
            "SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS": {"bcrypt__rounds": 4},
        }
    )


def signed_in_client(app: Any) -> Any:
    import re

    from console.extensions import db
    from console.services import users

    with app.app_context():
        users.create_user(ADMIN[0], "admin", ADMIN[1])
        db.session.commit()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    data = {"email": ADMIN[0], "password": ADMIN[1], "csrf_token": token.group(1) if token else ""}
    assert client.post("/login", data=data).status_code == 302, "bench admin could not sign in"
    return client


def timed(client: Any, url: str, samples: int) -> dict[str, float]:
    client.get(url)  # warm the page cache and the template
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return summary_ms(times)


def pages(rows: int, now: datetime) -> dict[str, str]:
    """The page URLs measured; ``before`` of the deep page is near the oldest event."""
    since = (now - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    until = (now - timedelta(days=9)).strftime("%Y-%m-%dT%H:%M")
    return {
        "first page": "/admin/audit/",
        "filtered: server + outcome": "/admin/audit/?server=staging&outcome=failed",
        "filtered: actor + action": "/admin/audit/?actor=person3@example.com&action=trigger",
        "deep page (keyset, 99% back)": f"/admin/audit/?before={max(rows // 100, 60)}",
        "time range: one day, 9 days ago": f"/admin/audit/?since={since}&until={until}",
        "search: common word (refused)": "/admin/audit/?q=refused",
        "search: rare word (dag_0042)": "/admin/audit/?q=dag_0042",
        "search: prefix + filter": "/admin/audit/?q=pers&server=lab",
        "rare combination (4 filters)": "/admin/audit/?server=lab&outcome=refused&category=system&action=pool_update",
        "filters matching nothing": "/admin/audit/?server=lab&outcome=refused&actor=nobody@example.com",
    }


def export_csv(client: Any) -> tuple[float, int, int]:
    started = time.perf_counter()
    response = client.get("/admin/audit/export?format=csv")
    size = lines = 0
    for chunk in response.response:
        data = chunk if isinstance(chunk, bytes) else chunk.encode()
        size += len(data)
        lines += data.count(b"\n")
    return time.perf_counter() - started, size, lines - 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench audit")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--no-export", action="store_true")
    args = parser.parse_args(argv)
    from flask_migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="audit-bench-") as folder:
        path = Path(folder) / "console.db"
        app = make_app(path)
        with app.app_context():
            upgrade()
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        seconds = seed_rows(path, args.rows, now)
        print(f"seeded {args.rows:,} audit events and their search index in {seconds:.1f} s")
        client = signed_in_client(app)
        result: dict[str, Any] = {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "rows": args.rows,
            "seed_seconds": round(seconds, 1),
            "pages": {},
        }
        for name, url in pages(args.rows, now).items():
            result["pages"][name] = {"url": url, **timed(client, url, args.samples)}
        base = result["pages"]["first page"]["p95_ms"]
        for page in result["pages"].values():
            page["ratio_p95_to_first_page"] = ratio(page["p95_ms"], base)
        if not args.no_export:
            took, size, lines = export_csv(client)
            result["export_csv"] = {"seconds": round(took, 1), "bytes": size, "rows": lines}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "audit.json").write_text(json.dumps(result, indent=2) + "\n")
    print_result(result)
    return 0 if all(p["p95_ms"] <= TARGET_P95_MS for p in result["pages"].values()) else 1


def print_result(result: dict[str, Any]) -> None:
    rows = [
        [name, p["p50_ms"], p["p95_ms"], p["ratio_p95_to_first_page"], verdict(p["p95_ms"], TARGET_P95_MS)]
        for name, p in result["pages"].items()
    ]
    print(format_table(["audit log page", "p50 ms", "p95 ms", "x first page", f"<{TARGET_P95_MS:.0f} ms"], rows))
    if "export_csv" in result:
        e = result["export_csv"]
        print(f"CSV export of all {e['rows']:,} rows: {e['seconds']} s, {e['bytes'] / 1e6:.0f} MB streamed")
