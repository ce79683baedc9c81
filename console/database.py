"""Database engine settings (SQLite in WAL mode with a busy timeout) and the migration lock."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from console.extensions import db


def _configure_sqlite(dbapi_connection: Any, _record: Any, busy_timeout_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def init_database(app: Flask) -> None:
    """Attach per-connection settings to the app's engine (runs no query now)."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        timeout = app.config["SQLITE_BUSY_TIMEOUT_MS"]
        sa.event.listen(engine, "connect", lambda conn, rec: _configure_sqlite(conn, rec, timeout))


#: The PostgreSQL advisory lock key that ``manage.py db upgrade`` holds (any constant will do;
#: this one reads "airflow-console migrations").
MIGRATION_LOCK_KEY = 0x41_43_4D_49_47


@contextlib.contextmanager
def migration_lock(connection: sa.Connection) -> Iterator[None]:
    """Hold the database's migration lock: replicas that start ``db upgrade`` at once run it one
    after another, and each one after the first finds the schema at head and does nothing.

    PostgreSQL: a session advisory lock (``pg_advisory_lock``) on ``connection``, taken and
    committed before Alembic reads the version table. SQLite: an exclusive ``flock`` on a file
    beside the database (an in-memory database needs none).
    """
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        connection.commit()
        try:
            yield
        finally:
            connection.rollback()
            connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
        return
    database = connection.engine.url.database
    if connection.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(Path(database).with_name(Path(database).name + ".migrate-lock"), "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
