"""Integration tests for console.airflow.sandbox against a real Airflow 3.3.2.

Uses the test session's sandbox (``airflow_sandbox``). Every test that needs it running asks
for ``sandbox``, which starts it when an earlier test stopped it, so the tests pass in any order.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import psutil
import pytest

from console.airflow import sandbox as sb
from tests.conftest import ROOT, SANDBOX_START_TIMEOUT, sandbox_api, sandbox_settings
from tests.conftest import SANDBOX_PORT as PORT

pytestmark = pytest.mark.integration

EXAMPLE_DAGS = {
    "example_quick",
    "example_fails",
    "example_params",
    "example_long",
    "example_large_log",
    "example_multi",
}


def _processes_of_home(home: Path) -> list[int]:
    """Running processes (zombies aside) whose AIRFLOW_HOME is ``home``."""
    found = []
    for proc in psutil.process_iter(["environ", "status"]):
        environ = proc.info["environ"] or {}
        if proc.info["status"] != psutil.STATUS_ZOMBIE and environ.get("AIRFLOW_HOME") == str(home):
            found.append(proc.pid)
    return found


def _processes_in_group(pgid: int) -> list[int]:
    found = []
    for proc in psutil.process_iter(["status"]):
        try:
            in_group = os.getpgid(proc.pid) == pgid
        except OSError:
            continue
        if in_group and proc.info["status"] != psutil.STATUS_ZOMBIE and proc.pid != os.getpid():
            found.append(proc.pid)
    return found


@pytest.fixture(scope="module")
def settings():
    return sandbox_settings()


@pytest.fixture
def sandbox(settings, airflow_sandbox):
    """The session's sandbox, running and healthy for this test (started again if a test stopped it)."""
    return sb.start(settings, timeout=SANDBOX_START_TIMEOUT, log=lambda _m: None)


def test_settings_paths(settings):
    assert settings.base_url == f"http://localhost:{PORT}"
    assert settings.venv == ROOT / ".sandbox" / "venv"
    assert settings.home == ROOT / ".sandbox" / f"home-{PORT}"
    assert settings.password_file.parent == settings.home
    assert settings.dags_folder == ROOT / "examples" / "dags"


def test_port_taken_by_something_else_is_reported(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        other = sb.SandboxSettings(root=tmp_path, dags_folder=tmp_path / "dags", port=port)
        with pytest.raises(sb.SandboxError, match=f"port {port} is already in use"):
            sb.start(other, timeout=5, log=lambda _m: None)
    assert not other.venv.exists()  # failed before installing anything


def test_status_reports_running_healthy_and_password(settings, sandbox):
    st = sb.status(settings)
    assert st.running and st.healthy
    assert st.pid == sandbox.pid and st.pid is not None
    assert st.base_url == settings.base_url
    assert st.username == "admin"
    assert st.password_file == settings.password_file and st.password_file.is_file()
    stored = json.loads(st.password_file.read_text())
    assert st.password == stored["admin"] == sb.read_password(settings)
    assert settings.pid_file.read_text().strip() == str(st.pid)


def test_start_is_idempotent(settings, sandbox):
    said: list[str] = []
    again = sb.start(settings, timeout=60, wait_for_dags=True, log=said.append)
    assert not [m for m in said if "starting airflow standalone" in m], said
    assert again.pid == sandbox.pid
    assert again.running and again.healthy
    assert sb.status(settings).pid == sandbox.pid


def test_ensure_installed_does_nothing_when_installed(settings, sandbox):
    said: list[str] = []
    sb.ensure_installed(settings, log=said.append)
    assert said == []  # no virtualenv created, nothing installed


def test_health_needs_no_auth(settings, sandbox):
    components = ("metadatabase", "scheduler", "dag_processor", "triggerer")
    health = sb.api_client(settings, signed_in=False).health()
    assert [health.get(c) for c in components] == ["healthy"] * len(components)


def test_example_dags_are_listed_unpaused_and_tagged(sandbox):
    listed = {d.dag_id: d for d in sandbox_api(sandbox).list_dags()}
    assert set(listed) >= EXAMPLE_DAGS
    assert {d: (listed[d].is_paused, "example" in listed[d].tags) for d in EXAMPLE_DAGS} == dict.fromkeys(
        EXAMPLE_DAGS, (False, True)
    )


def test_example_daily_is_listed_paused_with_a_daily_schedule(sandbox):
    dag = sandbox_api(sandbox).get_dag_details("example_daily")
    assert (dag.is_paused, dag.timetable_summary, dag.catchup) == (True, "0 0 * * *", False)


def test_example_params_come_with_their_schema(sandbox):
    params = sandbox_api(sandbox).get_dag_details("example_params").params
    assert params["count"] == {
        "value": 3,
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "title": "Count"},
        "description": "Integer between 1 and 100.",
        "source": None,
    }
    assert params["color"]["schema"]["enum"] == ["red", "green", "blue"]
    assert params["dry_run"]["value"] is False
    assert params["ticket"]["value"] is None  # required, no default


@pytest.fixture
def sandbox_to_stop(settings, sandbox):
    """The running sandbox, for a test that stops it; started again afterwards whatever the test
    found, so that the tests after it (in this module or another) find it running."""
    yield sandbox
    sb.start(settings, timeout=SANDBOX_START_TIMEOUT, log=lambda _m: None)


def test_stop_kills_everything(settings, sandbox_to_stop):
    sandbox = sandbox_to_stop
    pid = sandbox.pid
    assert _processes_of_home(settings.home), "expected airflow processes before stop"
    assert sb.stop(settings, log=lambda _m: None) is True
    assert _processes_in_group(pid) == []
    assert _processes_of_home(settings.home) == []
    st = sb.status(settings)
    assert not st.running and not st.healthy and st.pid is None
    assert not settings.pid_file.exists()
    assert sb.stop(settings, log=lambda _m: None) is False
    restarted = sb.start(settings, timeout=SANDBOX_START_TIMEOUT, log=lambda _m: None)
    assert restarted.running and restarted.healthy and restarted.pid != pid
