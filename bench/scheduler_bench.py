"""Scheduler benchmark: N enabled tasks due in the same minute, against a real Airflow sandbox.

Measures, for one fire of every task:

* the ceiling -- a plain loop of N ``trigger_dag_run`` calls with the same client;
* the scheduler -- a real ``python manage.py scheduler`` process on a fresh SQLite
  database: the time from the scheduled minute until all N DAG runs exist in Airflow,
  the p50/p99 delay of each run (Airflow's ``queued_at`` minus the scheduled time),
  duplicates (must be 0) and lost fires (must be 0);

prints a table and writes ``bench/results/scheduler.json``. The ceiling is measured
before and after the scheduler (Airflow slows down as its runs table grows) and the
mean is reported. The DAG is paused for the benchmark, so Airflow only creates runs
instead of executing 3N of them, which would measure its executor, not the trigger
path; it is left paused (unpausing would start those runs), and a sandbox the
benchmark started is stopped again.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DAG_ID = "example_quick"


@dataclass
class Result:
    tasks: int
    airflow: str
    ceiling_seconds: float
    ceiling_per_second: float
    scheduled_for: str
    all_runs_after_seconds: float
    scheduler_per_second: float
    share_of_ceiling: float
    delay_p50_seconds: float
    delay_p99_seconds: float
    delay_max_seconds: float
    duplicates: int
    lost: int
    trigger_attempts: int


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def start_sandbox(port: int) -> Any:
    from console.airflow import sandbox

    settings = sandbox.SandboxSettings.in_checkout(ROOT, port=port)
    return sandbox.start(settings, log=lambda msg: print(f"  {msg}"))


def make_app(database_url: str, secret_key: str) -> Any:
    from flask_migrate import upgrade

    from console import create_app

    app = create_app({"SECRET_KEY": secret_key, "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        upgrade()
    return app


def measure_ceiling(client: Any, count: int) -> float:
    """Seconds for ``count`` sequential trigger calls (the most one client thread can do).

    Each call is the scheduler's: a run id, an empty conf and a note of the same length.
    """
    batch = uuid.uuid4().hex[:8]
    started = time.monotonic()
    for i in range(count):
        stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
        note = f"Airflow Console task 'bench {batch[:6]} {i:05d}' (scheduled, {stamp} UTC)"
        client.trigger_dag_run(DAG_ID, run_id=f"bench__ceiling__{batch}__{i}", conf={}, note=note)
    return time.monotonic() - started


def create_tasks(app: Any, server_id: int, count: int, lead: float) -> datetime:
    """``count`` enabled tasks firing once a day at the next whole minute at least ``lead`` s away."""
    from console.extensions import db
    from console.services import tasks
    from console.versioning import acting_as

    target = (datetime.now(UTC) + timedelta(seconds=lead + 60)).replace(second=0, microsecond=0)
    cron = f"{target.minute} {target.hour} * * *"
    with app.app_context(), acting_as("system:bench"):
        batch = uuid.uuid4().hex[:6]
        for i in range(count):
            tasks.create_task(
                {"name": f"bench {batch} {i:05d}", "server_id": server_id, "dag_id": DAG_ID, "cron": cron},
                check_dag=False,
            )
        db.session.commit()
    return target.replace(tzinfo=None)


def start_scheduler(database_url: str, secret_key: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSOLE_")}
    env.update(CONSOLE_SECRET_KEY=secret_key, CONSOLE_DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "scheduler"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def wait_for_triggers(app: Any, count: int, scheduled: datetime, timeout: float) -> None:
    import sqlalchemy as sa

    from console.extensions import db
    from console.models import TaskRun

    deadline = time.monotonic() + timeout
    last = -1
    with app.app_context():
        while time.monotonic() < deadline:
            done = db.session.scalar(
                sa.select(sa.func.count())
                .select_from(TaskRun)
                .where(TaskRun.scheduled_for == scheduled, TaskRun.state != "pending")
            )
            db.session.rollback()
            if done != last:
                print(f"  {done}/{count} triggered")
                last = done or 0
            if done is not None and done >= count:
                return
            time.sleep(1.0)
    print("  timed out waiting for the scheduler; counting what exists")


def expected_runs(app: Any, scheduled: datetime) -> tuple[set[str], int, int]:
    """Run ids the fires should have made, TaskRun rows for the minute, and trigger attempts."""
    import sqlalchemy as sa

    from console.extensions import db
    from console.models import Task, TaskRun
    from console.services.fires import dag_run_id

    with app.app_context():
        tasks = db.session.execute(sa.select(Task.id, Task.created_at)).all()
        rows = db.session.execute(sa.select(TaskRun.attempts).where(TaskRun.scheduled_for == scheduled)).all()
        return {dag_run_id(t, c, scheduled) for t, c in tasks}, len(rows), sum(a for (a,) in rows)


def measure(app: Any, client: Any, count: int, scheduled: datetime, ceiling: float, version: str) -> Result:
    expected, recorded, attempts = expected_runs(app, scheduled)
    stamp = f"__{scheduled:%Y-%m-%dT%H:%M:%S}Z"
    runs = [
        r
        for r in client.list_dag_runs(DAG_ID, limit=count * 3 + 200, order_by="-run_after")
        if r.run_id.startswith("console__task-") and r.run_id.endswith(stamp)
    ]
    mine = [r for r in runs if r.run_id in expected]
    scheduled_utc = scheduled.replace(tzinfo=UTC)
    delays = [((r.queued_at or r.run_after) - scheduled_utc).total_seconds() for r in mine]  # type: ignore[operator]
    seen = {r.run_id for r in mine}
    duplicates = (len(runs) - len(mine)) + (len(mine) - len(seen)) + max(0, recorded - count)
    total = max(delays) if delays else float("nan")
    return Result(
        tasks=count,
        airflow=version,
        ceiling_seconds=round(ceiling, 2),
        ceiling_per_second=round(count / ceiling, 1),
        scheduled_for=scheduled.isoformat() + "Z",
        all_runs_after_seconds=round(total, 2),
        scheduler_per_second=round(len(mine) / total, 1) if delays else 0.0,
        share_of_ceiling=round(ceiling / total, 3) if delays else 0.0,
        delay_p50_seconds=round(percentile(delays, 0.5), 2) if delays else float("nan"),
        delay_p99_seconds=round(percentile(delays, 0.99), 2) if delays else float("nan"),
        delay_max_seconds=round(total, 2),
        duplicates=duplicates,
        lost=len(expected - seen),
        trigger_attempts=attempts,
    )


def print_table(result: Result) -> None:
    rows = [
        ("tasks due in the same minute", f"{result.tasks}"),
        ("ceiling: plain trigger loop", f"{result.ceiling_seconds:.1f} s ({result.ceiling_per_second:.1f}/s)"),
        (
            "scheduler: all DAG runs exist after",
            f"{result.all_runs_after_seconds:.1f} s ({result.scheduler_per_second:.1f}/s)",
        ),
        ("scheduler / ceiling", f"{result.share_of_ceiling:.0%} (target >= 80%)"),
        (
            "delay p50 / p99 / max",
            f"{result.delay_p50_seconds:.1f} / {result.delay_p99_seconds:.1f} / {result.delay_max_seconds:.1f} s",
        ),
        ("duplicates (must be 0)", f"{result.duplicates}"),
        ("lost fires (must be 0)", f"{result.lost}"),
        ("trigger attempts", f"{result.trigger_attempts}"),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    print(f"Scheduler benchmark against Airflow {result.airflow}")
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")


def run(count: int, port: int, lead: float) -> Result:
    from console.airflow import sandbox
    from console.airflow.client import AirflowClient

    settings = sandbox.SandboxSettings.in_checkout(ROOT, port=port)
    was_running = sandbox.status(settings).running
    print(f"Starting the Airflow sandbox on port {port} (reused if running)...")
    status = start_sandbox(port)
    client = AirflowClient(status.base_url, username=status.username, password=status.password, name="bench")
    version = client.version()["version"] or "?"
    client.set_paused(DAG_ID, True)
    print(f"  {DAG_ID} is paused for the benchmark (and stays paused: unpausing would run every bench run)")
    try:
        return run_against(client, status, count, lead, version)
    finally:
        if not was_running:
            sandbox.stop(settings, log=lambda msg: print(f"  {msg}"))


def run_against(client: Any, status: Any, count: int, lead: float, version: str) -> Result:
    from console.extensions import db
    from console.services import servers

    workdir = Path(tempfile.mkdtemp(prefix="console-bench-"))
    database_url, secret_key = f"sqlite:///{workdir / 'console.db'}", secrets.token_urlsafe(48)
    app = make_app(database_url, secret_key)
    print(f"Ceiling: {count} trigger calls in a plain loop...")
    before = measure_ceiling(client, count)
    print(f"  {before:.1f} s ({count / before:.1f}/s)")
    with app.app_context():
        server = servers.register_server(
            name="bench", base_url=status.base_url, username=status.username, secret=status.password
        )
        db.session.commit()
        server_id = server.id
    scheduled = create_tasks(app, server_id, count, lead)
    print(f"Created {count} tasks due at {scheduled:%H:%M:%S} UTC; starting the scheduler...")
    scheduler = start_scheduler(database_url, secret_key, workdir / "scheduler.log")
    try:
        time.sleep(max(0.0, (scheduled - datetime.now(UTC).replace(tzinfo=None)).total_seconds()))
        wait_for_triggers(app, count, scheduled, timeout=max(120.0, 10 * before))
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(30)
        print(f"  (scheduler log: {workdir / 'scheduler.log'})")
    print(f"Ceiling again: {count} trigger calls in a plain loop...")
    after = measure_ceiling(client, count)
    print(f"  {after:.1f} s ({count / after:.1f}/s)")
    return measure(app, client, count, scheduled, (before + after) / 2, version)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000, help="tasks due in the same minute (default 1000)")
    parser.add_argument("--port", type=int, default=28091, help="port of the benchmark's own sandbox")
    parser.add_argument("--lead", type=float, default=20.0, help="seconds the scheduler gets to start first")
    args = parser.parse_args(argv)
    result = run(args.tasks, args.port, args.lead)
    print_table(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scheduler.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    print(f"\nWrote {RESULTS / 'scheduler.json'}")
    return 0 if result.duplicates == 0 and result.lost == 0 else 1
