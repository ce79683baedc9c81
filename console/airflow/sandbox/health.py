"""Whether a sandbox is ready: its health, and every example DAG file listed by the API.

Every HTTP call goes through :class:`~console.airflow.client.AirflowClient`, which follows
Airflow's pages (at most 100 rows each), so a DAG folder of any size can be waited for.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from console.airflow.client import AirflowClient
from console.airflow.errors import AirflowError
from console.airflow.sandbox.process import is_alive, log_tail
from console.airflow.sandbox.settings import SandboxError, SandboxSettings
from console.airflow.tokens import TokenCache

Log = Callable[[str], Any]

HEALTH_COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")
#: Seconds between two looks at a starting sandbox.
POLL_SECONDS = 1.0


# --------------------------------------------------------------------------- credentials


def read_password(settings: SandboxSettings) -> str:
    """The admin password from ``settings.password_file``."""
    try:
        data = json.loads(settings.password_file.read_text())
    except FileNotFoundError:
        raise SandboxError(f"no password file at {settings.password_file}; start the sandbox first") from None
    except ValueError as exc:
        raise SandboxError(f"{settings.password_file} is not valid JSON: {exc}") from None
    password = data.get(settings.username) if isinstance(data, dict) else None
    if not password:
        raise SandboxError(f"{settings.password_file} has no password for user {settings.username!r}")
    return password


def ensure_password_file(settings: SandboxSettings) -> None:
    """Write a random admin password (mode 0600) unless the file exists: Airflow's simple auth
    manager reads it, and it stays the same across restarts."""
    if settings.password_file.exists():
        return
    settings.password_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = settings.password_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({settings.username: secrets.token_urlsafe(16)}))
    os.chmod(tmp, 0o600)
    os.replace(tmp, settings.password_file)


def api_client(settings: SandboxSettings, *, signed_in: bool = True) -> AirflowClient:
    """A client for the sandbox's API (signed in as its admin unless ``signed_in=False``, which
    suffices for the health).  One try per call: the waits here poll anyway."""
    return AirflowClient(
        settings.base_url,
        username=settings.username if signed_in else None,
        password=read_password(settings) if signed_in else None,
        name="sandbox",
        attempts=1,
        token_cache=TokenCache(),
    )


# --------------------------------------------------------------------------- health


def read_health(settings: SandboxSettings, client: AirflowClient | None = None) -> dict[str, str | None] | None:
    """Each component's status, or None when the API server does not answer."""
    try:
        return (client or api_client(settings, signed_in=False)).health()
    except AirflowError:
        return None


def is_healthy(health: dict[str, str | None] | None) -> bool:
    return bool(health) and all((health or {}).get(c) == "healthy" for c in HEALTH_COMPONENTS)


# --------------------------------------------------------------------------- DAG files


#: The DAG file that defines ``SandboxSettings.generated_dags`` DAGs (none by default).
GENERATED_DAGS_FILE = "example_generated.py"


def expected_dag_files(settings: SandboxSettings) -> set[str]:
    """DAG files (relative to the DAGs folder) that Airflow's safe mode would parse and that
    define DAGs (the generated-DAGs file only when some are asked for)."""
    out: set[str] = set()
    if not settings.dags_folder.is_dir():
        return out
    for path in settings.dags_folder.rglob("*.py"):
        relative = path.relative_to(settings.dags_folder)
        if any(part.startswith((".", "__")) for part in relative.parts):
            continue
        if str(relative) == GENERATED_DAGS_FILE and not settings.generated_dags:
            continue
        with contextlib.suppress(OSError):
            text = path.read_bytes().lower()
            if b"airflow" in text and b"dag" in text:
                out.add(str(relative))
    return out


def _relative(settings: SandboxSettings, location: str) -> str:
    if not os.path.isabs(location):
        return location
    for candidate in (Path(location), Path(location).resolve()):
        with contextlib.suppress(ValueError):
            return str(candidate.relative_to(settings.dags_folder))
    return location


def dags_listed(settings: SandboxSettings, client: AirflowClient, expected: set[str]) -> tuple[int | None, str]:
    """``(number of DAGs listed, "")`` once every expected file has its DAGs listed, else
    ``(None, what is missing)``.  Raises :class:`SandboxError` on import errors in those files."""
    dags = client.list_dags()
    errors = [e for e in client.list_import_errors() if _relative(settings, e.filename) in expected]
    if errors:
        details = "\n".join(f"{_relative(settings, e.filename)}:\n{e.stack_trace or ''}" for e in errors)
        raise SandboxError("import errors in the sandbox's DAG files:\n" + details)
    missing = expected - {_relative(settings, d.fileloc or "") for d in dags}
    if missing or (expected and not dags):
        return None, f"{len(dags)} DAGs listed, waiting for {sorted(missing)}"
    return len(dags), ""


# --------------------------------------------------------------------------- the wait


def wait_until_ready(
    settings: SandboxSettings, pid: int | None, deadline: float, wait_for_dags: bool, log: Log
) -> int | None:
    """Wait until the sandbox is healthy and (with ``wait_for_dags``) lists the DAGs of every
    file in its DAGs folder; returns how many DAGs it lists (None without ``wait_for_dags``).

    Raises :class:`SandboxError` when the standalone ``pid`` exits, when a DAG file fails to
    import, or at ``deadline`` (a ``time.monotonic()`` value), quoting the log's last lines.
    """
    t0 = time.monotonic()
    expected = expected_dag_files(settings) if wait_for_dags else set()
    healthy_logged = False
    last_state = "no answer from the API server yet"
    health_client = api_client(settings, signed_in=False)
    client: AirflowClient | None = None  # signed in, made once the DAGs are waited for
    while True:
        if pid is not None and not is_alive(pid):
            raise SandboxError(
                f"airflow standalone (pid {pid}) exited while starting; last lines of {settings.log_file}:\n"
                + log_tail(settings)
            )
        health = read_health(settings, health_client)
        if is_healthy(health):
            if not healthy_logged:
                log(f"sandbox: healthy after {time.monotonic() - t0:.0f} s")
                healthy_logged = True
            if not wait_for_dags:
                return None
            client = client or api_client(settings)
            try:
                count, last_state = dags_listed(settings, client, expected)
            except AirflowError as exc:
                count, last_state = None, f"API error: {exc}"
            if count is not None:
                log(f"sandbox: {count} DAGs listed after {time.monotonic() - t0:.0f} s")
                return count
        elif health:
            last_state = "health: " + ", ".join(f"{c}={health.get(c)}" for c in HEALTH_COMPONENTS)
        if time.monotonic() > deadline:
            raise SandboxError(
                f"the sandbox on {settings.base_url} did not get ready in time ({last_state}); "
                f"last lines of {settings.log_file}:\n" + log_tail(settings)
            )
        time.sleep(POLL_SECONDS)
