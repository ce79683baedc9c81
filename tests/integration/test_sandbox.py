"""Integration tests for console.airflow.sandbox against a real Airflow 3.3.2.

Uses the test session's sandbox (``airflow_sandbox``). Every test that needs it running asks
for ``sandbox``, which starts it when an earlier test stopped it, so the tests pass in any order.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from pathlib import Path

import pytest

from console.airflow import sandbox as sb
from tests.conftest import SANDBOX_PORT as PORT
from tests.conftest import SANDBOX_START_TIMEOUT, sandbox_settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

EXAMPLE_DAGS = {
    "example_quick",
    "example_fails",
    "example_params",
    "example_long",
    "example_large_log",
    "example_multi",
}


def _live_pids(pred) -> list[int]:
    """Non-zombie processes whose (pid, stat fields, environ) satisfy ``pred``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
            fields = raw[raw.rfind(")") + 2 :].split()
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if fields[0] in ("Z", "X"):
            continue
        if pred(int(entry), fields, environ):
            out.append(int(entry))
    return out


def _processes_of_home(home: Path) -> list[int]:
    marker = f"AIRFLOW_HOME={home}".encode()
    return _live_pids(lambda pid, fields, environ: marker in environ)


def _processes_in_group(pgid: int) -> list[int]:
    return _live_pids(lambda pid, fields, environ: int(fields[2]) == pgid)


def _api(settings: sb.SandboxSettings, method: str, path: str, body=None, token=None):
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(settings.base_url + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, json.loads(resp.read())


@pytest.fixture(scope="module")
def settings():
    return sandbox_settings()


@pytest.fixture
def sandbox(settings, airflow_sandbox):
    """The session's sandbox, running and healthy for this test (started again if a test stopped it)."""
    return sb.start(settings, timeout=SANDBOX_START_TIMEOUT, log=lambda _m: None)


def test_settings_paths(settings):
    assert settings.base_url == f"http://localhost:{PORT}"
    assert settings.venv == REPO / ".sandbox" / "venv"
    assert settings.home == REPO / ".sandbox" / f"home-{PORT}"
    assert settings.password_file.parent == settings.home
    assert settings.dags_folder == REPO / "examples" / "dags"


def test_port_taken_by_something_else_is_reported(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        other = sb.SandboxSettings(root=tmp_path, port=port)
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
    code, health = _api(settings, "GET", "/api/v2/monitor/health")
    assert code == 200
    for component in ("metadatabase", "scheduler", "dag_processor", "triggerer"):
        assert health[component]["status"] == "healthy"


def test_example_dags_are_listed_with_a_token(settings, sandbox):
    code, payload = _api(
        settings, "POST", "/auth/token", body={"username": "admin", "password": sb.read_password(settings)}
    )
    assert code == 201
    token = payload["access_token"]
    code, payload = _api(settings, "GET", "/api/v2/dags?limit=100", token=token)
    assert code == 200
    listed = {d["dag_id"]: d for d in payload["dags"]}
    assert set(listed) >= EXAMPLE_DAGS
    for dag_id in EXAMPLE_DAGS:
        assert not listed[dag_id]["is_paused"]
        assert "example" in {t["name"] for t in listed[dag_id]["tags"]}
    code, details = _api(settings, "GET", "/api/v2/dags/example_params/details", token=token)
    params = details["params"]
    assert params["count"] == {
        "value": 3,
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "title": "Count"},
        "description": "Integer between 1 and 100.",
        "source": None,
    }
    assert params["color"]["schema"]["enum"] == ["red", "green", "blue"]
    assert params["dry_run"]["value"] is False
    assert params["ticket"]["value"] is None  # required, no default


def test_stop_kills_everything(settings, sandbox):
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
