"""Refuse to start a long-running process whose files cannot be written (a read-only instance folder,
a full disk): one clear line and a non-zero exit, rather than a traceback or a process that retries
forever."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import make_url

#: Written (and removed) to prove a folder takes data: a full disk refuses it.
PROBE_BYTES = 64 * 1024


def folders_written(config: Any, instance_path: str) -> list[tuple[Path, str]]:
    """The folders this configuration writes to, and what it keeps in each."""
    found: list[tuple[Path, str]] = []
    url = make_url(str(config["SQLALCHEMY_DATABASE_URI"]))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        found.append((Path(url.database).resolve().parent, "SQLite database"))
    if not config.get("REDIS_URL") and not config.get("JOBS_IMMEDIATE"):
        queue = Path(config.get("JOBS_QUEUE_PATH") or Path(instance_path) / "jobs.db")
        found.append((queue.resolve().parent, "job queue"))
    return found


def problem_with(folder: Path) -> str | None:
    """Why ``folder`` cannot take a file, or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-") as probe:
            probe.write(b"\0" * PROBE_BYTES)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def require_writable_storage(config: Any, instance_path: str) -> None:
    """Raise ``click.ClickException`` (exit status 1) naming the first folder that cannot be written."""
    for folder, what in folders_written(config, instance_path):
        why = problem_with(folder)
        if why is not None:
            raise click.ClickException(
                f"cannot write the {what} in {folder} ({why}). Make the folder writable or free some space, "
                "or point CONSOLE_DATABASE_URL / CONSOLE_JOBS_QUEUE_PATH / CONSOLE_REDIS_URL elsewhere."
            )
