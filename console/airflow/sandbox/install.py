"""Install Apache Airflow into the sandbox's own virtualenv (never the console's)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from console.airflow.sandbox.settings import SandboxError, SandboxSettings, clean_env, file_lock

Log = Callable[[str], Any]

#: Lines of a failed command's output that an error message quotes.
OUTPUT_TAIL_LINES = 30


def installed_version(settings: SandboxSettings) -> str | None:
    """The apache-airflow version in ``settings.venv``, or None when there is none (or it is broken)."""
    if not settings.airflow_bin.exists() or not settings.python_bin.exists():
        return None
    try:
        out = subprocess.run(
            [str(settings.python_bin), "-c", "import importlib.metadata as m; print(m.version('apache-airflow'))"],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(settings),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def ensure_installed(settings: SandboxSettings, log: Log = print) -> None:
    """Install ``apache-airflow==settings.airflow_version`` into ``settings.venv``.

    Idempotent, and one short subprocess when the right version is already there; says nothing
    through ``log`` then.  Raises :class:`SandboxError` with pip's last lines when it fails.
    """
    if installed_version(settings) == settings.airflow_version:
        return
    with file_lock(settings.root / ".install.lock"):
        current = installed_version(settings)  # another process may have installed it meanwhile
        if current == settings.airflow_version:
            return
        t0 = time.monotonic()
        if not settings.python_bin.exists():
            if settings.venv.exists():
                log(f"sandbox: removing broken virtualenv {settings.venv}")
                shutil.rmtree(settings.venv)
            log(f"sandbox: creating virtualenv {settings.venv}")
            _run_checked([_base_python(), "-m", "venv", str(settings.venv)], settings, "create the virtualenv")
        what = f"apache-airflow=={settings.airflow_version}"
        found_note = f" (found {current})" if current else ""
        log(f"sandbox: installing {what} into {settings.venv}{found_note} - this takes about a minute")
        pip = [str(settings.python_bin), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"]
        _run_checked([*pip, what], settings, f"pip install {what}")
        found = installed_version(settings)
        if found != settings.airflow_version:
            raise SandboxError(f"after installing {what}, {settings.venv} reports apache-airflow {found!r}")
        log(f"sandbox: installed {what} in {time.monotonic() - t0:.0f} s")


def _base_python() -> str:
    # The interpreter the console runs on (Airflow 3.3 supports it); python3 when it is unknown.
    return sys.executable or shutil.which("python3") or "python3"


def _run_checked(cmd: list[str], settings: SandboxSettings, what: str) -> None:
    proc = subprocess.run(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env(settings),
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-OUTPUT_TAIL_LINES:])
        raise SandboxError(f"could not {what} (exit code {proc.returncode}):\n{tail}")
