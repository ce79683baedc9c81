"""Where a sandbox lives and what it runs with: :class:`SandboxSettings`.

Contract: pure data and paths; nothing here locates the repository on its own.
The caller says where the sandbox's files go (``root``) and which DAGs it loads
(``dags_folder``): the CLI from the app's config, tests and benchmarks from
their checkout (:meth:`SandboxSettings.in_checkout`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 28080
AIRFLOW_VERSION = "3.3.2"

# Variables of the caller's environment that would leak its Python or Airflow setup into the sandbox.
_LEAKY_VARIABLES = frozenset(
    {
        "AIRFLOW_HOME",
        "AIRFLOW_CONFIG",
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PIP_REQUIRE_VIRTUALENV",
        "__PYVENV_LAUNCHER__",
    }
)


class SandboxError(RuntimeError):
    """A sandbox operation failed; the message is meant for humans."""


@dataclass(frozen=True, kw_only=True)
class SandboxSettings:
    """One sandbox: Airflow installed in ``root/venv``, running with ``AIRFLOW_HOME`` at
    ``root/home-<port>``, loading the DAG files of ``dags_folder``.  Paths are made absolute."""

    root: Path
    dags_folder: Path
    port: int = DEFAULT_PORT
    airflow_version: str = AIRFLOW_VERSION
    username: str = "admin"
    #: How many extra, never-running DAGs ``examples/dags/example_generated.py`` makes (a
    #: server with many DAGs for the call-count tests); 0: none.
    generated_dags: int = 0
    #: AIRFLOW_* variables that override the defaults of :func:`airflow_env` (the benchmark's
    #: sandbox parses its 1,000 DAG files rarely), as ``(name, value)`` pairs.
    extra_env: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Normalised so that paths compare and print the same whatever the caller passed.
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())
        object.__setattr__(self, "dags_folder", Path(self.dags_folder).expanduser().resolve())
        object.__setattr__(self, "port", int(self.port))
        object.__setattr__(self, "generated_dags", int(self.generated_dags))

    @classmethod
    def in_checkout(cls, checkout: Path, port: int = DEFAULT_PORT) -> SandboxSettings:
        """The sandbox of a source checkout: files in ``checkout/.sandbox``, DAGs from
        ``checkout/examples/dags``."""
        return cls(root=checkout / ".sandbox", dags_folder=checkout / "examples" / "dags", port=port)

    @property
    def base_url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def home(self) -> Path:
        return self.root / f"home-{self.port}"

    @property
    def password_file(self) -> Path:
        return self.home / "passwords.json"

    @property
    def pid_file(self) -> Path:
        return self.home / "standalone.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "standalone.log"

    @property
    def airflow_bin(self) -> Path:
        return self.venv / "bin" / "airflow"

    @property
    def python_bin(self) -> Path:
        return self.venv / "bin" / "python"


def clean_env(settings: SandboxSettings) -> dict[str, str]:
    """``os.environ`` without the caller's Python and Airflow setup, with the sandbox's venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k not in _LEAKY_VARIABLES}
    env["PATH"] = os.pathsep.join([str(settings.venv / "bin"), env.get("PATH", os.defpath)])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _aux_port(port: int, n: int) -> int:
    """Log-server port ``n`` (1 or 2) for the sandbox on ``port``: port+10000*n, wrapped into 1024..65535."""
    return (port + 10000 * n - 1024) % (65536 - 1024) + 1024


def airflow_env(settings: SandboxSettings) -> dict[str, str]:
    """The AIRFLOW_* variables the sandbox runs with (also handy for ``airflow`` CLI calls)."""
    port = settings.port
    return {
        "AIRFLOW_HOME": str(settings.home),
        "CONSOLE_SANDBOX_GENERATED_DAGS": str(settings.generated_dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_folder),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.username}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(settings.password_file),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
        # GET /api/v2/config answers (the console's "Airflow configuration" page), secrets hidden.
        "AIRFLOW__API__EXPOSE_CONFIG": "non-sensitive-only",
        # The scheduler and triggerer serve logs on 0.0.0.0:8793/8794 by default; two sandboxes (or any
        # other Airflow) on one machine would fight over those ports, so derive them from the API port.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_aux_port(port, 1)),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_aux_port(port, 2)),
        # Pick up new and changed DAG files quickly.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
        "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "5",
        **dict(settings.extra_env),
    }


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing): one installer or starter at a time,
    across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
