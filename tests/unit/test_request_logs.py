"""One JSON log line per request, the request id header, and no secrets in logged errors."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from console.observability.logs import JsonFormatter, RequestContext, ScrubbingFormatter, scrub
from tests.conftest import Auth

DB_PASSWORD = "pg-Pa55word-do-not-log"
AIRFLOW_PASSWORD = "airflow-s3cret-do-not-log"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlLXNlY3JldA"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The root logger's records, formatted as the console formats them with LOG_FORMAT=json."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContext())
    root = logging.getLogger()
    # As `configure("json")` leaves it (a test that ran a command in-process may have configured text).
    request_logger = logging.getLogger("console.request")
    old_levels = root.level, request_logger.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    request_logger.setLevel(logging.NOTSET)
    yield out
    root.removeHandler(handler)
    root.setLevel(old_levels[0])
    request_logger.setLevel(old_levels[1])


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def test_one_json_line_per_request_with_its_id(app: Flask, json_log: io.StringIO) -> None:
    client = Auth(app, app.test_client())("viewer")
    json_log.truncate(0)
    json_log.seek(0)
    response = client.get("/admin/")
    assert response.status_code == 200
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 32
    (line,) = [entry for entry in lines(json_log) if entry["logger"] == "console.request"]
    assert line["request_id"] == request_id
    assert line["user"] == "viewer@example.com"
    assert line["endpoint"] == "admin.index"
    assert line["method"] == "GET" and line["path"] == "/admin/"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "INFO" and "time" in line


def test_the_airflow_server_of_a_dag_screen_is_in_the_line(app: Flask, json_log: io.StringIO) -> None:
    client = Auth(app, app.test_client())("viewer")
    client.get("/admin/dags/999999/some_dag/")
    (line,) = [entry for entry in lines(json_log) if entry.get("endpoint") == "dags.detail"]
    assert line["airflow_server_id"] == 999999


def test_a_well_formed_incoming_request_id_is_kept(app: Flask, json_log: io.StringIO) -> None:
    response = app.test_client().get("/healthz", headers={"X-Request-ID": "lb-7f3a.42_x"})
    assert response.headers["X-Request-ID"] == "lb-7f3a.42_x"
    assert [e["request_id"] for e in lines(json_log) if e["logger"] == "console.request"] == ["lb-7f3a.42_x"]


@pytest.mark.parametrize("incoming", ["", "has space", "x" * 65, "<script>", "id;X-Evil=1"])
def test_a_malformed_request_id_is_replaced(app: Flask, incoming: str) -> None:
    response = app.test_client().get("/healthz", headers={"X-Request-ID": incoming})
    assert response.headers["X-Request-ID"] != incoming
    assert len(response.headers["X-Request-ID"]) == 32


def test_every_answer_carries_a_request_id(app: Flask) -> None:
    client = app.test_client()
    for path in ("/healthz", "/admin/", "/no/such/page", "/login"):
        assert client.get(path).headers.get("X-Request-ID"), path


def test_an_error_is_logged_with_context_and_without_secrets(
    app_factory: Callable[..., Flask], json_log: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.services import health

    def broken(**_: object) -> None:
        raise RuntimeError(
            f"cannot reach postgresql+psycopg://console:{DB_PASSWORD}@db:5432/console "
            f"nor http://admin:{AIRFLOW_PASSWORD}@airflow:8080 (password={AIRFLOW_PASSWORD}, "
            f"Authorization: Bearer {TOKEN})"
        )

    monkeypatch.setattr(health, "readiness", broken)
    app = app_factory(PROPAGATE_EXCEPTIONS=False)
    response = app.test_client().get("/readyz", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    text = json_log.getvalue()
    for secret in (DB_PASSWORD, AIRFLOW_PASSWORD, TOKEN):
        assert secret not in text
    (error,) = [e for e in lines(json_log) if e["level"] == "ERROR"]
    assert error["request_id"] == "req-500" and error["endpoint"] == "health.readyz"
    assert "RuntimeError: cannot reach postgresql+psycopg://console:***@db:5432/console" in str(error["error"])
    assert "http://admin:***@airflow:8080" in str(error["error"])
    (line,) = [e for e in lines(json_log) if e["logger"] == "console.request"]
    assert line["status"] == 500 and line["request_id"] == "req-500"


def test_the_text_format_scrubs_too() -> None:
    record = logging.makeLogRecord(
        {"msg": "connect to %s", "args": (f"redis://:{DB_PASSWORD}@redis:6379/0",), "levelname": "WARNING"}
    )
    text = ScrubbingFormatter("%(levelname)s %(message)s").format(record)
    assert text == "WARNING connect to redis://:***@redis:6379/0"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("secret_key=abc123 and token: 'xyz'", "secret_key=abc123 and token: '***'"),
        ('{"password": "hunter2"}', '{"password": "***"}'),
        ("https://user@host/path", "https://user@host/path"),
        ("no secrets here: dag_id=example_quick", "no secrets here: dag_id=example_quick"),
    ],
)
def test_scrub(raw: str, clean: str) -> None:
    assert scrub(raw) == clean


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_configured_output(fmt: str) -> None:
    """What a process that configured its logging (gunicorn worker, scheduler, worker) writes."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import logging; from console.observability.logs import configure; "
        f"configure({fmt!r}, 'info'); "
        "logging.getLogger('console.x').info('connect with password=%s', 'hunter2'); "
        "logging.getLogger('console.request').info('GET / 200', extra={'request_id': 'r1'})"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "hunter2" not in done.stderr
    out = done.stderr.splitlines()
    if fmt == "json":
        entries = [json.loads(line) for line in out]
        assert [(e["logger"], e["message"]) for e in entries] == [
            ("console.x", "connect with password=***"),
            ("console.request", "GET / 200"),
        ]
        assert entries[1]["request_id"] == "r1"
    else:  # gunicorn's access log has the request lines
        assert len(out) == 1 and out[0].endswith("INFO console.x: connect with password=***")
