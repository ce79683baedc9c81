"""Start, stop and report on a sandbox: install, process supervision and health put together."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from console.airflow.sandbox.health import (
    Log,
    ensure_password_file,
    is_healthy,
    read_health,
    read_password,
    wait_until_ready,
)
from console.airflow.sandbox.install import ensure_installed
from console.airflow.sandbox.process import (
    port_listener,
    recorded_pid,
    sandbox_processes,
    spawn_standalone,
    stop_processes,
)
from console.airflow.sandbox.settings import SandboxError, SandboxSettings, airflow_env, clean_env, file_lock


@dataclass
class SandboxStatus:
    running: bool
    healthy: bool
    pid: int | None
    base_url: str
    username: str
    password_file: Path
    password: str | None
    #: Each component's status (``{"scheduler": "healthy", ...}``), None when it does not answer.
    health: dict[str, str | None] | None = field(default=None, repr=False)


def status(settings: SandboxSettings) -> SandboxStatus:
    """Whether the sandbox runs (its recorded standalone is alive) and is healthy."""
    pid = recorded_pid(settings)
    health = read_health(settings) if pid else None
    password = None
    with contextlib.suppress(SandboxError):
        password = read_password(settings)
    return SandboxStatus(
        running=pid is not None,
        healthy=pid is not None and is_healthy(health),
        pid=pid,
        base_url=settings.base_url,
        username=settings.username,
        password_file=settings.password_file,
        password=password,
        health=health,
    )


def start(
    settings: SandboxSettings, timeout: float = 240, wait_for_dags: bool = True, log: Log = print
) -> SandboxStatus:
    """Start the sandbox (installing Airflow first if needed) and wait until it is healthy and,
    with ``wait_for_dags``, lists the DAGs of every file in its DAGs folder.

    Idempotent: when it is already running and healthy on ``settings.port`` this returns at once
    (after checking the DAGs, if ``wait_for_dags``); when it is running but still starting, this
    waits for it instead of starting another one.  A sandbox this call started and that does not
    get ready is stopped again.  Raises :class:`SandboxError`.
    """
    deadline = time.monotonic() + timeout
    settings.home.mkdir(parents=True, exist_ok=True)
    with file_lock(settings.home / ".start.lock"):
        current = status(settings)
        if current.running:
            if current.healthy and not wait_for_dags:
                return current
            if not current.healthy:
                log(f"sandbox: already running (pid {current.pid}), waiting for it to become healthy")
            wait_until_ready(settings, current.pid, deadline, wait_for_dags, log)
            return status(settings)
        pid = _launch(settings, log)
        try:
            wait_until_ready(settings, pid, deadline, wait_for_dags, log)
        except BaseException:
            with contextlib.suppress(Exception):
                stop(settings, log=lambda _msg: None)
            raise
        return status(settings)


def _launch(settings: SandboxSettings, log: Log) -> int:
    with contextlib.suppress(FileNotFoundError):
        settings.pid_file.unlink()
    leftovers = sandbox_processes(settings)
    if leftovers:
        log(f"sandbox: stopping {len(leftovers)} leftover processes of {settings.home}")
        stop_processes(settings, None)
    listener = port_listener(settings.port)
    if listener is not None:
        raise SandboxError(
            f"port {settings.port} is already in use by {listener}, but not by the sandbox of "
            f"{settings.home}; stop that process or use another port"
        )
    ensure_installed(settings, log=log)
    if not settings.dags_folder.is_dir():
        raise SandboxError(f"DAGs folder {settings.dags_folder} does not exist")
    ensure_password_file(settings)
    log(f"sandbox: starting airflow standalone on {settings.base_url} (home {settings.home})")
    return spawn_standalone(settings, {**clean_env(settings), **airflow_env(settings)})


def stop(settings: SandboxSettings, log: Log = print) -> bool:
    """Stop the sandbox and every process it started.  Returns False if nothing was running;
    raises :class:`SandboxError` if a process of it survives."""
    pid = recorded_pid(settings)
    if pid is not None:
        log(f"sandbox: stopping airflow standalone (pid {pid})")
    elif sandbox_processes(settings):
        log(f"sandbox: stopping leftover processes of {settings.home}")
    stopped = stop_processes(settings, pid)
    with contextlib.suppress(FileNotFoundError):
        settings.pid_file.unlink()
    return stopped
