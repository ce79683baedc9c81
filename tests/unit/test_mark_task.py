"""Marking one task instance success or failed from the run page: Airflow's refusals
(which the sandbox cannot be made to give for every status) become a clear message and one
audit row, never a 500."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import AirflowAction
from tests.conftest import Auth

OPERATOR = "operator@example.com"


class RefusingAirflow:
    """An Airflow API that refuses every request with one status and Airflow's ``detail``;
    ``writes`` keeps the paths of the requests that would change something."""

    def __init__(self, status: int, detail: str) -> None:
        fake = self
        self.writes: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                if self.command != "GET":
                    fake.writes.append(f"{self.command} {self.path.split('?')[0]}")
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = json.dumps({"detail": detail}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def refusing(app: Flask) -> Iterator[Callable[[int, str], tuple[int, RefusingAirflow]]]:
    """Register a server answering every request with ``status`` and ``detail``."""
    from console.services import servers

    made: list[RefusingAirflow] = []

    def make(status: int, detail: str) -> tuple[int, RefusingAirflow]:
        made.append(RefusingAirflow(status, detail))
        with app.app_context():
            server = servers.register_server(
                name="refusing", base_url=made[-1].url, username="admin", secret="not-a-real-secret", auth_kind="token"
            )
            server.read_timeout = 2.0
            db.session.commit()
            return server.id, made[-1]

    yield make
    for fake in made:
        fake.stop()


def flashes(login_as: Auth) -> list[tuple[str, str]]:
    with login_as.client.session_transaction() as session:
        return list(session.get("_flashes", []))


@pytest.mark.parametrize(
    ("status", "detail", "map_index", "path"),
    [
        (409, "Task id boom is already in success state", "-1", "/taskInstances/boom"),
        (404, "Task 'boom' not found in Dag 'example_fails'", "-1", "/taskInstances/boom"),
        (400, "Invalid state", "3", "/taskInstances/boom/3"),
    ],
)
def test_fake_airflow_refusing_a_task_mark_is_a_clear_message_and_one_audit_row(
    app: Flask, login_as: Auth, refusing: Any, status: int, detail: str, map_index: str, path: str
) -> None:
    server_id, fake = refusing(status, detail)
    login_as("operator")
    url = f"/admin/dags/{server_id}/example_fails/runs/r1/tasks/boom/mark"

    response = login_as.post(url, {"state": "success", "map_index": map_index})

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/dags/{server_id}/example_fails/runs/r1/")
    assert fake.writes == [f"PATCH /api/v2/dags/example_fails/dagRuns/r1{path}"]
    assert flashes(login_as) == [
        (
            "error",
            "Airflow server 'refusing': cannot set the state of task 'boom' in run 'r1' of DAG 'example_fails': "
            + detail,
        )
    ]
    with app.app_context():
        row = db.session.scalars(sa.select(AirflowAction)).one()
        assert (row.actor, row.action, row.dag_id, row.run_id, row.task_id, row.succeeded) == (
            OPERATOR,
            "mark success",
            "example_fails",
            "r1",
            "boom",
            False,
        )
        assert json.loads(row.detail)["map_index"] == int(map_index)
        assert detail in (row.error or "")


def test_a_task_can_only_be_marked_success_or_failed(app: Flask, login_as: Auth, refusing: Any) -> None:
    server_id, fake = refusing(500, "never asked")
    login_as("operator")
    url = f"/admin/dags/{server_id}/example_fails/runs/r1/tasks/boom/mark"

    response = login_as.post(url, {"state": "running"})

    assert response.status_code == 302
    assert flashes(login_as) == [("error", "A task can only be marked success or failed.")]
    assert fake.writes == []
    with app.app_context():
        assert db.session.scalars(sa.select(AirflowAction)).all() == []
