"""``manage.py db upgrade`` is idempotent, and replicas starting it at once take turns.

PostgreSQL (a fresh database per test, dropped afterwards) holds ``pg_advisory_lock``; SQLite
an ``flock`` beside the database file. Each concurrency test holds the lock itself, starts two
upgrades, waits until both are seen queued on the lock, then lets them go.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from console.database import MIGRATION_LOCK_KEY
from tests.conftest import PG_URL, ROOT, wait_until

pytestmark = [pytest.mark.integration]
SECRET = "migration-lock-test-0123456789abcdef0123456789abcdef"


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config(str(ROOT / "console" / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "console" / "migrations"))
    (head,) = ScriptDirectory.from_config(config).get_heads()
    return head


def start_upgrade(url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CONSOLE_SECRET_KEY": SECRET, "CONSOLE_DATABASE_URL": url}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> str:
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]
    return out


@pytest.fixture
def pg_database() -> Iterator[tuple[str, str]]:
    """``(sqlalchemy url, libpq url)`` of a new, empty database, dropped after the test."""
    name = f"console_migrate_{uuid.uuid4().hex[:10]}"
    server = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_URL.rsplit("/", 1)[0] + "/" + name, server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_upgrade_twice_on_postgres(pg_database: tuple[str, str]) -> None:
    url, libpq = pg_database
    first = finish(start_upgrade(url))
    assert "Running upgrade  ->" in first
    second = finish(start_upgrade(url))
    assert "Running upgrade" not in second
    with psycopg.connect(libpq) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]


@pytest.mark.postgres
def test_concurrent_upgrades_on_postgres_take_turns(pg_database: tuple[str, str]) -> None:
    url, libpq = pg_database
    with psycopg.connect(libpq, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        procs = [start_upgrade(url) for _ in range(2)]
        try:

            def both_waiting() -> bool:
                (waiting,) = holder.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND objid = %s AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    (MIGRATION_LOCK_KEY & 0xFFFFFFFF,),
                ).fetchone()
                return waiting == 2

            wait_until(both_waiting, 120, "both upgrades to wait for the migration lock")
            with psycopg.connect(libpq) as probe:  # nothing ran while the lock was held
                assert probe.execute("SELECT to_regclass('alembic_version')").fetchone() == (None,)
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
        outputs = [finish(p) for p in procs]
    assert sum("Running upgrade  ->" in out for out in outputs) == 1  # one migrated, the other found head
    with psycopg.connect(libpq) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
        (locks,) = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()
        assert locks == 0


def blocked_flocks(path: Path) -> int:
    """How many processes wait for an ``flock`` on ``path`` (``/proc/locks`` marks them ``->``)."""
    inode = path.stat().st_ino
    return sum(
        1
        for line in Path("/proc/locks").read_text().splitlines()
        if "->" in line and "FLOCK" in line and line.split()[-3].split(":")[-1] == str(inode)
    )


def test_concurrent_upgrades_on_sqlite_take_turns(tmp_path: Path) -> None:
    database = tmp_path / "console.db"
    url = f"sqlite:///{database}"
    lock = tmp_path / "console.db.migrate-lock"
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        procs = [start_upgrade(url) for _ in range(2)]
        try:
            wait_until(lambda: blocked_flocks(lock) == 2, 120, "both upgrades to wait for the migration lock")
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
    outputs = [finish(p) for p in procs]
    assert sum("Running upgrade  ->" in out for out in outputs) == 1
    import sqlite3

    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]
    assert "Running upgrade" not in finish(start_upgrade(url))
