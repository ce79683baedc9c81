"""Database engine settings: SQLite in WAL mode with a busy timeout."""

from __future__ import annotations

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
