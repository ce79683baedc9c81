"""Marking one task instance success or failed from the run page: Airflow's refusals
(which the sandbox cannot be made to give for every status) become a clear message and one
audit row, never a 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import AuditEvent
from tests.conftest import Auth
from tests.fakes import FakeAirflow, Reply

OPERATOR = "operator@example.com"


@pytest.fixture
def refusing(
    app: Flask, start_fake: Callable[[FakeAirflow], FakeAirflow]
) -> Callable[[int, str], tuple[int, FakeAirflow]]:
    """Register a fake Airflow answering every request with ``status`` and Airflow's ``detail``."""
    from console.services import servers

    def make(status: int, detail: str) -> tuple[int, FakeAirflow]:
        fake = start_fake(FakeAirflow(Reply(status, {"detail": detail}), tokens=False))
        with app.app_context():
            server = servers.register_server(
                name="refusing", base_url=fake.url, username="admin", secret="not-a-real-secret", auth_kind="token"
            )
            server.read_timeout = 2.0
            db.session.commit()
            return server.id, fake

    return make


def writes(fake: FakeAirflow) -> list[str]:
    """The requests that would change something."""
    return [f"{seen.method} {seen.path}" for seen in fake.seen if seen.method != "GET"]


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
    assert writes(fake) == [f"PATCH /api/v2/dags/example_fails/dagRuns/r1{path}"]
    assert flashes(login_as) == [
        (
            "error",
            "Airflow server 'refusing': cannot set the state of task 'boom' in run 'r1' of DAG 'example_fails': "
            + detail,
        )
    ]
    with app.app_context():
        row = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.category == "airflow")).one()
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
    assert writes(fake) == []
    with app.app_context():
        assert db.session.scalars(sa.select(AuditEvent).where(AuditEvent.category == "airflow")).all() == []
