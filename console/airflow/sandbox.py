"""Run a real local Apache Airflow ("sandbox") for development and tests.

The sandbox is ``airflow standalone`` (scheduler, dag-processor, triggerer and
api-server on SQLite with the LocalExecutor) installed into its own virtualenv
under ``settings.root/"venv"`` and run with ``AIRFLOW_HOME`` at
``settings.root/f"home-{port}"``. Airflow is never installed into the
console's own environment.

Pure stdlib (no Flask); the click CLI calls :func:`ensure_installed`,
:func:`start`, :func:`stop`, :func:`status` and :func:`read_password`.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_DAGS_FOLDER",
    "SandboxError",
    "SandboxSettings",
    "SandboxStatus",
    "airflow_env",
    "ensure_installed",
    "get_token",
    "list_dags",
    "read_password",
    "start",
    "status",
    "stop",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DAGS_FOLDER = REPO_ROOT / "examples" / "dags"
DEFAULT_ROOT = REPO_ROOT / ".sandbox"

HEALTH_COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")
STOP_TIMEOUT = 20.0
LOG_TAIL_LINES = 30

Log = Callable[[str], Any]


class SandboxError(RuntimeError):
    """A sandbox operation failed; the message is meant for humans."""


@dataclass(frozen=True)
class SandboxSettings:
    root: Path = DEFAULT_ROOT
    port: int = 28080
    dags_folder: Path = DEFAULT_DAGS_FOLDER
    airflow_version: str = "3.3.2"
    username: str = "admin"

    def __post_init__(self) -> None:
        # Normalise so that paths compare/print the same whatever the caller passed.
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())
        object.__setattr__(self, "dags_folder", Path(self.dags_folder).expanduser().resolve())
        object.__setattr__(self, "port", int(self.port))

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


@dataclass
class SandboxStatus:
    running: bool
    healthy: bool
    pid: int | None
    base_url: str
    username: str
    password_file: Path
    password: str | None
    health: dict[str, Any] | None = field(default=None, repr=False)


# --------------------------------------------------------------------------- install


def _installed_version(settings: SandboxSettings) -> str | None:
    if not settings.airflow_bin.exists() or not settings.python_bin.exists():
        return None
    try:
        out = subprocess.run(
            [str(settings.python_bin), "-c", "import importlib.metadata as m; print(m.version('apache-airflow'))"],
            capture_output=True,
            text=True,
            timeout=60,
            env=_clean_env(settings),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _base_python() -> str:
    # Prefer the interpreter we run on (Airflow 3.3 supports it); fall back to python3.
    return sys.executable or shutil.which("python3") or "python3"


def ensure_installed(settings: SandboxSettings, log: Log = print) -> None:
    """Install ``apache-airflow==settings.airflow_version`` into ``settings.venv``.

    Idempotent and fast (one short subprocess) when the right version is already there.
    """
    if _installed_version(settings) == settings.airflow_version:
        return
    with _file_lock(settings.root / ".install.lock"):
        current = _installed_version(settings)  # somebody else may have installed it meanwhile
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
        log(
            f"sandbox: installing {what} into {settings.venv}"
            + (f" (found {current})" if current else "")
            + " - this takes about a minute"
        )
        _run_checked(
            [
                str(settings.python_bin),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--progress-bar",
                "off",
                what,
            ],
            settings,
            f"pip install {what}",
        )
        found = _installed_version(settings)
        if found != settings.airflow_version:
            raise SandboxError(f"after installing {what}, {settings.venv} reports apache-airflow {found!r}")
        log(f"sandbox: installed {what} in {time.monotonic() - t0:.0f} s")


def _run_checked(cmd: list[str], settings: SandboxSettings, what: str) -> None:
    proc = subprocess.run(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_clean_env(settings),
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-LOG_TAIL_LINES:])
        raise SandboxError(f"could not {what} (exit code {proc.returncode}):\n{tail}")


# --------------------------------------------------------------------------- environment


def _clean_env(settings: SandboxSettings) -> dict[str, str]:
    """os.environ without anything that would leak the caller's Python/Airflow setup."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AIRFLOW__")
        and k
        not in {
            "AIRFLOW_HOME",
            "AIRFLOW_CONFIG",
            "VIRTUAL_ENV",
            "PYTHONPATH",
            "PYTHONHOME",
            "PYTHONSTARTUP",
            "PIP_REQUIRE_VIRTUALENV",
            "__PYVENV_LAUNCHER__",
        }
    }
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
        # The scheduler and triggerer serve logs on 0.0.0.0:8793/8794 by default; two sandboxes (or any
        # other Airflow) on one machine would fight over those ports, so derive them from the API port.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_aux_port(port, 1)),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_aux_port(port, 2)),
        # Pick up new/changed files in examples/dags quickly.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
        "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "5",
    }


# --------------------------------------------------------------------------- processes


def _read_proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, session id) of ``pid`` or None if it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[0], int(fields[3])


# Popen objects of the standalones started by this process. Keeping them referenced avoids
# Popen.__del__'s "subprocess is still running" ResourceWarning (the sandbox is meant to outlive
# the call to start(), and the calling process too); they are dropped once reaped.
_CHILDREN: dict[int, subprocess.Popen] = {}


@atexit.register
def _leave_children_running() -> None:
    """A sandbox outlives the process that started it on purpose; tell Popen not to warn at exit."""
    for proc in _CHILDREN.values():
        if proc.poll() is None:
            proc.returncode = 0


def _reap(pid: int) -> None:
    proc = _CHILDREN.get(pid)
    if proc is not None:
        if proc.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _pid_alive(pid: int) -> bool:
    _reap(pid)  # a child of ours that exited is a zombie until reaped
    st = _read_proc_stat(pid)
    if st is not None:
        return st[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _read_pid(settings: SandboxSettings) -> int | None:
    """The recorded standalone pid, if that process is still an airflow standalone."""
    try:
        pid = int(settings.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if not _pid_alive(pid):
        return None
    cmd = _cmdline(pid)
    if cmd and "airflow" not in cmd:  # pid reused by something else
        return None
    return pid


def _home_processes(settings: SandboxSettings, sid: int | None = None) -> list[int]:
    """Live processes that belong to this sandbox: same session as the standalone, or AIRFLOW_HOME=home."""
    marker = f"AIRFLOW_HOME={settings.home}".encode()
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        st = _read_proc_stat(pid)
        if st is None or st[0] in ("Z", "X"):
            continue
        if sid is not None and st[1] == sid:
            found.append(pid)
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(pid)
    return found


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


# --------------------------------------------------------------------------- http


def _http(
    method: str, url: str, *, body: Any = None, token: str | None = None, timeout: float = 10.0
) -> tuple[int, Any]:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    data = None
    headers = {"Accept": "application/json"}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 (checked above)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            raw = resp.read()
            code = resp.status
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        code = exc.code
    try:
        return code, json.loads(raw) if raw else None
    except ValueError:
        return code, raw.decode(errors="replace")


def _health(settings: SandboxSettings, timeout: float = 5.0) -> dict[str, Any] | None:
    try:
        code, payload = _http("GET", f"{settings.base_url}/api/v2/monitor/health", timeout=timeout)
    except (OSError, urllib.error.URLError):
        return None
    if code != 200 or not isinstance(payload, dict):
        return None
    return payload


def _is_healthy(health: dict[str, Any] | None) -> bool:
    if not health:
        return False
    return all((health.get(c) or {}).get("status") == "healthy" for c in HEALTH_COMPONENTS)


def get_token(settings: SandboxSettings, password: str | None = None, timeout: float = 10.0) -> str:
    """A JWT for the sandbox's admin user (``POST /auth/token``)."""
    password = password if password is not None else read_password(settings)
    code, payload = _http(
        "POST",
        f"{settings.base_url}/auth/token",
        body={"username": settings.username, "password": password},
        timeout=timeout,
    )
    if code not in (200, 201) or not isinstance(payload, dict) or "access_token" not in payload:
        raise SandboxError(f"POST {settings.base_url}/auth/token failed: HTTP {code}: {payload}")
    return payload["access_token"]


def list_dags(settings: SandboxSettings, token: str | None = None) -> list[dict[str, Any]]:
    """All DAGs the sandbox knows (``GET /api/v2/dags``)."""
    token = token or get_token(settings)
    code, payload = _http("GET", f"{settings.base_url}/api/v2/dags?limit=1000", token=token)
    if code != 200 or not isinstance(payload, dict):
        raise SandboxError(f"GET /api/v2/dags failed: HTTP {code}: {payload}")
    return payload.get("dags", [])


def _import_errors(settings: SandboxSettings, token: str) -> list[dict[str, Any]]:
    code, payload = _http("GET", f"{settings.base_url}/api/v2/importErrors?limit=1000", token=token)
    if code != 200 or not isinstance(payload, dict):
        return []
    return payload.get("import_errors", [])


def _expected_dag_files(settings: SandboxSettings) -> set[str]:
    """DAG files (relative to the dags folder) that Airflow's safe mode would parse."""
    out: set[str] = set()
    if not settings.dags_folder.is_dir():
        return out
    for path in settings.dags_folder.rglob("*.py"):
        if any(part.startswith((".", "__")) for part in path.relative_to(settings.dags_folder).parts):
            continue
        with contextlib.suppress(OSError):
            text = path.read_bytes().lower()
            if b"airflow" in text and b"dag" in text:
                out.add(str(path.relative_to(settings.dags_folder)))
    return out


def _dags_ready(settings: SandboxSettings, expected: set[str]) -> tuple[bool, str]:
    """Whether every expected DAG file is parsed; raises on import errors in them."""
    token = get_token(settings)
    dags = list_dags(settings, token)
    seen = set()
    for d in dags:
        loc = d.get("relative_fileloc") or d.get("fileloc") or ""
        with contextlib.suppress(ValueError):
            loc = str(Path(loc).relative_to(settings.dags_folder)) if os.path.isabs(loc) else loc
        seen.add(loc)
    errors = []
    for err in _import_errors(settings, token):
        name = err.get("filename") or ""
        with contextlib.suppress(ValueError):
            name = str(Path(name).relative_to(settings.dags_folder)) if os.path.isabs(name) else name
        if name in expected:
            errors.append(f"{name}:\n{err.get('stack_trace', '')}")
    if errors:
        raise SandboxError("import errors in the sandbox's DAG files:\n" + "\n".join(errors))
    missing = expected - seen
    return (not missing and bool(dags or not expected)), f"{len(dags)} DAGs listed, waiting for {sorted(missing)}"


# --------------------------------------------------------------------------- public api


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


def _ensure_password_file(settings: SandboxSettings) -> None:
    if settings.password_file.exists():
        return
    settings.password_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = settings.password_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({settings.username: secrets.token_urlsafe(16)}))
    os.chmod(tmp, 0o600)
    os.replace(tmp, settings.password_file)


def status(settings: SandboxSettings) -> SandboxStatus:
    pid = _read_pid(settings)
    health = _health(settings) if pid else None
    password = None
    with contextlib.suppress(SandboxError):
        password = read_password(settings)
    return SandboxStatus(
        running=pid is not None,
        healthy=pid is not None and _is_healthy(health),
        pid=pid,
        base_url=settings.base_url,
        username=settings.username,
        password_file=settings.password_file,
        password=password,
        health=health,
    )


def _port_in_use(port: int) -> bool:
    for family, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            if s.connect_ex((addr, port)) == 0:
                return True
    return False


def _port_owner(port: int) -> str:
    """Best-effort description of who listens on ``port`` (Linux /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(cols[9])
    if not inodes:
        return ""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{entry}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{entry}/fd/{fd}")
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        return f" by pid {entry} ({_cmdline(int(entry)).strip()[:120]})"
    return ""


def _log_tail(settings: SandboxSettings, n: int = LOG_TAIL_LINES) -> str:
    try:
        with open(settings.log_file, errors="replace") as fh:
            return "".join(deque(fh, maxlen=n))
    except OSError:
        return "(no log)"


def start(
    settings: SandboxSettings, timeout: float = 240, wait_for_dags: bool = True, log: Log = print
) -> SandboxStatus:
    """Start the sandbox (installing Airflow first if needed) and wait until it is healthy.

    Idempotent: when it is already running and healthy on ``settings.port`` this returns at once
    (after checking the DAGs are listed, if ``wait_for_dags``); when it is running but still
    starting, this waits for it instead of starting another one.
    """
    deadline = time.monotonic() + timeout
    settings.home.mkdir(parents=True, exist_ok=True)
    with _file_lock(settings.home / ".start.lock"):
        st = status(settings)
        started_here = False
        if st.running:
            if st.healthy and not wait_for_dags:
                return st
            if not st.healthy:
                log(f"sandbox: already running (pid {st.pid}), waiting for it to become healthy")
        else:
            if settings.pid_file.exists():
                settings.pid_file.unlink()
            leftovers = _home_processes(settings)
            if leftovers:
                log(f"sandbox: killing {len(leftovers)} leftover processes of {settings.home}")
                _kill_and_wait(leftovers, settings, None)
            if _port_in_use(settings.port):
                raise SandboxError(
                    f"port {settings.port} is already in use{_port_owner(settings.port)}, "
                    f"but not by the sandbox of {settings.home}; stop that process or use another port"
                )
            ensure_installed(settings, log=log)
            if not settings.dags_folder.is_dir():
                raise SandboxError(f"DAGs folder {settings.dags_folder} does not exist")
            _ensure_password_file(settings)
            env = _clean_env(settings)
            env.update(airflow_env(settings))
            log(f"sandbox: starting airflow standalone on {settings.base_url} (home {settings.home})")
            with open(settings.log_file, "ab") as logfh:
                logfh.write(f"\n==== sandbox start {time.strftime('%Y-%m-%d %H:%M:%S')} ====\n".encode())
                logfh.flush()
                proc = subprocess.Popen(
                    [str(settings.airflow_bin), "standalone"],
                    cwd=str(settings.home),
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=logfh,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            _CHILDREN[proc.pid] = proc
            settings.pid_file.write_text(f"{proc.pid}\n")
            started_here = True
            st.pid = proc.pid

        try:
            return _wait_ready(settings, st.pid, deadline, wait_for_dags, log)
        except BaseException:
            if started_here:
                with contextlib.suppress(Exception):
                    stop(settings, log=lambda _msg: None)
            raise


def _wait_ready(
    settings: SandboxSettings, pid: int | None, deadline: float, wait_for_dags: bool, log: Log
) -> SandboxStatus:
    t0 = time.monotonic()
    expected = _expected_dag_files(settings) if wait_for_dags else set()
    healthy_logged = False
    last_state = "no answer from the API server yet"
    while True:
        if pid is not None and not _pid_alive(pid):
            raise SandboxError(
                f"airflow standalone (pid {pid}) exited while starting; last lines of {settings.log_file}:\n"
                + _log_tail(settings)
            )
        health = _health(settings)
        if _is_healthy(health):
            if not healthy_logged:
                log(f"sandbox: healthy after {time.monotonic() - t0:.0f} s")
                healthy_logged = True
            if not wait_for_dags:
                break
            try:
                ready, last_state = _dags_ready(settings, expected)
            except SandboxError as exc:
                if "import errors" in str(exc):
                    raise
                ready, last_state = False, str(exc)
            except (OSError, urllib.error.URLError) as exc:
                ready, last_state = False, f"API error: {exc}"
            if ready:
                log(f"sandbox: DAGs listed after {time.monotonic() - t0:.0f} s")
                break
        elif health:
            last_state = "health: " + ", ".join(f"{c}={(health.get(c) or {}).get('status')}" for c in HEALTH_COMPONENTS)
        if time.monotonic() > deadline:
            raise SandboxError(
                f"the sandbox on {settings.base_url} did not get ready in time ({last_state}); "
                f"last lines of {settings.log_file}:\n" + _log_tail(settings)
            )
        time.sleep(1)
    return status(settings)


def _kill_and_wait(pids: list[int], settings: SandboxSettings, sid: int | None, grace: float = STOP_TIMEOUT) -> None:
    _signal_all(pids, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end:
        if not [p for p in _home_processes(settings, sid) if _pid_alive(p)]:
            return
        time.sleep(0.25)
    _signal_all(_home_processes(settings, sid), signal.SIGKILL)


def stop(settings: SandboxSettings, log: Log = print) -> bool:
    """Stop the sandbox and every process it started. Returns False if nothing was running."""
    pid = _read_pid(settings)
    stopped = False
    if pid is not None:
        log(f"sandbox: stopping airflow standalone (pid {pid})")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        # Task processes run in process groups of their own (but the same session), so also
        # signal everything in the session / with this AIRFLOW_HOME.
        _kill_and_wait(_home_processes(settings, pid), settings, pid)
        end = time.monotonic() + STOP_TIMEOUT
        while _pid_alive(pid) and time.monotonic() < end:
            time.sleep(0.2)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        stopped = True
    leftovers = _home_processes(settings, pid)
    if leftovers:
        log(f"sandbox: killing {len(leftovers)} leftover processes of {settings.home}")
        _kill_and_wait(leftovers, settings, pid, grace=5)
        stopped = True
    # Final check: nothing may remain.
    end = time.monotonic() + 5
    while (remaining := _home_processes(settings, pid)) and time.monotonic() < end:
        _signal_all(remaining, signal.SIGKILL)
        time.sleep(0.2)
    if remaining:
        raise SandboxError(f"could not kill sandbox processes {remaining} of {settings.home}")
    if pid is not None:
        _reap(pid)
    with contextlib.suppress(FileNotFoundError):
        settings.pid_file.unlink()
    return stopped
