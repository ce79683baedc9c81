"""Supervise ``airflow standalone``: start it in a session of its own, find and stop every
process of a sandbox, say who holds a port.  Processes and sockets are read through psutil.

A sandbox belongs to its ``AIRFLOW_HOME``: every process Airflow starts inherits it, and the
standalone's session holds the task processes that run in process groups of their own.

The standalone is started with ``os.posix_spawn``, not ``subprocess.Popen``: a sandbox is meant
to outlive the process that started it, and a ``Popen`` object of a still running child warns
(``ResourceWarning``) when it is collected.  A standalone that exits while we run is reaped by
:func:`is_alive` or :func:`stop_processes`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import deque

import psutil

from console.airflow.sandbox.settings import SandboxError, SandboxSettings

#: Seconds the processes get to exit after SIGTERM before they are killed.
STOP_TIMEOUT = 20.0
#: Seconds to keep killing processes that appear while the sandbox stops.
SWEEP_TIMEOUT = 5.0
#: Seconds between the two empty scans that end a stop.
SWEEP_PAUSE = 0.3
LOG_TAIL_LINES = 30

# `cd HOME && exec airflow standalone`: posix_spawn has no working-directory option.
_IN_HOME = 'cd "$1" && shift && exec "$@"'


def spawn_standalone(settings: SandboxSettings, env: dict[str, str]) -> int:
    """Start ``airflow standalone`` in ``settings.home``, in a new session (its pid is the session
    and process group id), output appended to ``settings.log_file``; record and return its pid."""
    argv = ["/bin/sh", "-c", _IN_HOME, "airflow-sandbox", str(settings.home), str(settings.airflow_bin), "standalone"]
    with open(settings.log_file, "ab") as log:
        log.write(f"\n==== sandbox start {time.strftime('%Y-%m-%d %H:%M:%S')} ====\n".encode())
        log.flush()
        pid = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, log.fileno(), 2),
            ],
            setsid=True,
            # Python ignores SIGPIPE and SIGXFSZ; Airflow must get the defaults (as Popen would give).
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )
    settings.pid_file.write_text(f"{pid}\n")
    return pid


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not; a zombie child of ours is reaped)."""
    try:
        return _running(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False


def _running(proc: psutil.Process) -> bool:
    try:
        if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
            return True
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True
    with contextlib.suppress(psutil.Error, ChildProcessError):
        proc.wait(timeout=0)  # reaps it if it is our child; another's zombie stays its parent's business
    return False


def recorded_pid(settings: SandboxSettings) -> int | None:
    """The pid in ``settings.pid_file`` if that process still runs and is an Airflow process."""
    try:
        pid = int(settings.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if not is_alive(pid):
        return None
    try:
        cmdline = " ".join(psutil.Process(pid).cmdline())
    except psutil.AccessDenied:
        return pid
    except psutil.NoSuchProcess:
        return None
    return pid if "airflow" in cmdline else None  # otherwise the pid was reused


def sandbox_processes(settings: SandboxSettings, session: int | None = None) -> list[psutil.Process]:
    """Running processes of the sandbox: ``AIRFLOW_HOME`` is ``settings.home``, or they are in
    ``session`` or in the session of such a process (a task Airflow starts in a group of its own
    and without ``AIRFLOW_HOME`` is tied to the sandbox only by its session). Never the calling
    process, nor anything in the caller's own session."""
    home, me, my_session = str(settings.home), os.getpid(), _session_of(os.getpid())
    procs = []
    for proc in psutil.process_iter(["environ", "status"]):
        if proc.pid != me and proc.info["status"] != psutil.STATUS_ZOMBIE:
            procs.append(proc)
    sessions = {session} if session is not None else set()
    homed = {proc.pid for proc in procs if (proc.info["environ"] or {}).get("AIRFLOW_HOME") == home}
    sessions |= {sid for pid in homed if (sid := _session_of(pid)) is not None}
    sessions.discard(my_session)
    return [proc for proc in procs if proc.pid in homed or _session_of(proc.pid) in sessions]


def _session_of(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


def stop_processes(settings: SandboxSettings, pid: int | None) -> bool:
    """Stop the standalone ``pid`` (if given) and every process of the sandbox: SIGTERM, then
    SIGKILL after :data:`STOP_TIMEOUT`.  Returns False if none was running; raises
    :class:`SandboxError` if any survives."""
    targets = sandbox_processes(settings, session=pid)
    if not targets:
        return False
    if pid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    _send(targets, signal.SIGTERM)
    _send(_wait_gone(targets, STOP_TIMEOUT), signal.SIGKILL)
    # A process started while the others stopped (a task being launched) is caught by a last
    # sweep, which ends only after two scans a moment apart found nothing: one scan can miss a
    # process that is being forked or exec'd while /proc is read.
    deadline = time.monotonic() + SWEEP_TIMEOUT
    quiet_scans = 0
    while quiet_scans < 2 and time.monotonic() < deadline:
        left = sandbox_processes(settings, session=pid)
        if left:
            quiet_scans = 0
            _send(left, signal.SIGKILL)
            _wait_gone(left, 1.0)
        else:
            quiet_scans += 1
            time.sleep(SWEEP_PAUSE)
    if quiet_scans < 2:
        left = sandbox_processes(settings, session=pid)
        raise SandboxError(f"could not kill sandbox processes {[p.pid for p in left]} of {settings.home}")
    return True


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until none of ``procs`` runs (zombies count as gone: psutil.wait_procs waits for a
    non-child zombie until its parent reaps it); returns those still running at ``timeout``."""
    deadline = time.monotonic() + timeout
    while (alive := [p for p in procs if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def _send(procs: list[psutil.Process], sig: int) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.send_signal(sig)


def port_listener(port: int) -> str | None:
    """None when nothing listens on TCP ``port``; otherwise who does (``"pid 12 (cmd...)"``, or
    ``"another user's process"`` when the pid is not visible to us)."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                return "another user's process"
            try:
                return f"pid {conn.pid} ({' '.join(psutil.Process(conn.pid).cmdline())[:120]})"
            except psutil.Error:
                return f"pid {conn.pid}"
    return None


def log_tail(settings: SandboxSettings, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of the standalone's log, for error messages."""
    try:
        with open(settings.log_file, errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines))
    except OSError:
        return "(no log)"
