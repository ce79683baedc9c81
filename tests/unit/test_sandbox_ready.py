"""The sandbox's ready wait against a FAKE Airflow: a DAG folder larger than one API page.

Airflow answers at most 100 rows per page, whatever ``limit`` asks for; the fake does the same,
so a ready check that read one page only would never see the 250 DAGs of this folder.  The
real sandbox is covered by ``tests/integration/test_sandbox.py``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from console.airflow.sandbox import SandboxError, SandboxSettings
from console.airflow.sandbox.health import ensure_password_file, wait_until_ready

DAG_COUNT = 250
PAGE_CAP = 100  # Airflow's maximum page size
HEALTHY = {c: {"status": "healthy"} for c in ("metadatabase", "scheduler", "dag_processor", "triggerer")}
# Only a guard against a wait that never ends.
GUARD_SECONDS = 60.0


def _handler(dags_folder: Path, import_errors: list[dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    dags = [
        {"dag_id": f"dag_{i:03d}", "is_paused": False, "fileloc": str(dags_folder / f"dag_{i:03d}.py"), "tags": []}
        for i in range(DAG_COUNT)
    ]

    class FakeAirflow(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._reply(201, {"access_token": "fake-token"})

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            limit = min(int(query.get("limit", ["50"])[0]), PAGE_CAP)
            offset = int(query.get("offset", ["0"])[0])
            if url.path == "/api/v2/monitor/health":
                self._reply(200, HEALTHY)
            elif url.path == "/api/v2/dags":
                self._reply(200, {"dags": dags[offset : offset + limit], "total_entries": len(dags)})
            elif url.path == "/api/v2/importErrors":
                page = import_errors[offset : offset + limit]
                self._reply(200, {"import_errors": page, "total_entries": len(import_errors)})
            else:
                self._reply(404, {"detail": "not found"})

    return FakeAirflow


@pytest.fixture
def import_errors() -> list[dict[str, Any]]:
    """What the fake answers to ``GET /api/v2/importErrors`` (none unless a test adds some)."""
    return []


@pytest.fixture
def big_sandbox(tmp_path: Path, import_errors: list[dict[str, Any]]) -> Iterator[SandboxSettings]:
    """Settings of a sandbox whose 250 DAG files a fake Airflow lists, 100 per page."""
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    for i in range(DAG_COUNT):
        (dags_folder / f"dag_{i:03d}.py").write_text(
            f"from airflow.sdk import dag\n\n\n@dag()\ndef dag_{i:03d}(): ...\n"
        )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(dags_folder, import_errors))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings = SandboxSettings(root=tmp_path / "sandbox", dags_folder=dags_folder, port=server.server_address[1])
    ensure_password_file(settings)
    try:
        yield settings
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_fake_airflow_ready_wait_sees_every_dag_past_the_first_page(big_sandbox: SandboxSettings) -> None:
    listed = wait_until_ready(
        big_sandbox, pid=None, deadline=time.monotonic() + GUARD_SECONDS, wait_for_dags=True, log=lambda _m: None
    )
    assert listed == DAG_COUNT


def test_fake_airflow_ready_wait_stops_at_an_import_error_in_a_dag_file(
    big_sandbox: SandboxSettings, import_errors: list[dict[str, Any]]
) -> None:
    import_errors.append(
        {"import_error_id": 1, "filename": "dag_007.py", "bundle_name": "dags-folder", "stack_trace": "SyntaxError: x"}
    )
    with pytest.raises(SandboxError, match=r"import errors in the sandbox's DAG files:\ndag_007.py:\nSyntaxError: x"):
        wait_until_ready(
            big_sandbox, pid=None, deadline=time.monotonic() + GUARD_SECONDS, wait_for_dags=True, log=lambda _m: None
        )
