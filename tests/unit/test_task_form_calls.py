"""What the task form asks of Airflow: the DAG choices through the cached DAG list, and one check
of the task (its DAG looked up with it) before the save."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import Task
from console.services import dag_list, tasks
from tests import static_dns
from tests.conftest import Auth
from tests.unit.test_dags_query import make_dag
from tests.unit.test_tasks_screens import form_data, server_id


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The form's webhook host resolves to a public address without a DNS lookup."""
    static_dns.install(monkeypatch)


def test_saving_the_form_checks_the_task_once(app: Flask, login_as: Auth, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = server_id(app)
    checks: list[bool] = []
    asked: list[tuple[int, str]] = []
    clean = tasks.clean

    def counted_clean(*args: Any, **kwargs: Any) -> dict[str, Any]:
        checks.append(kwargs.get("check_dag", True))
        return clean(*args, **kwargs)

    monkeypatch.setattr(tasks, "clean", counted_clean)
    monkeypatch.setattr(tasks, "_missing_dag", lambda server_id, dag_id: asked.append((server_id, dag_id)))
    login_as("operator")
    response = login_as.post("/admin/tasks/new/", form_data(sid))
    assert response.status_code == 302
    assert (checks, asked) == ([True], [(sid, "example_quick")])
    with app.app_context():
        assert db.session.scalars(sa.select(Task.name)).all() == ["nightly export"]


def test_a_dag_the_server_does_not_have_is_a_field_error(
    app: Flask, login_as: Auth, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = server_id(app)
    monkeypatch.setattr(tasks, "_missing_dag", lambda server_id, dag_id: f"The server has no DAG {dag_id!r}.")
    login_as("operator")
    page = login_as.post("/admin/tasks/new/", form_data(sid)).get_data(as_text=True)
    assert "The server has no DAG &#39;example_quick&#39;." in page
    with app.app_context():
        assert db.session.scalars(sa.select(Task)).all() == []


class CountingClient:
    """Stands in for a server's client and counts how often the DAG list is asked for."""

    def __init__(self) -> None:
        self.lists = 0

    def list_dags(self) -> list[Any]:
        self.lists += 1
        return [make_dag("example_quick")]


def test_dag_choices_come_from_the_cached_dag_list(
    app_factory: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_factory(CACHE_TYPE="SimpleCache", CACHE_SECONDS={"dag_list": 60})
    sid = server_id(app)
    client = CountingClient()
    monkeypatch.setattr(dag_list, "client_or_failure", lambda server: client)
    login = Auth(app, app.test_client())
    viewer = login("viewer")
    answers = [viewer.get(f"/admin/tasks/dag_choices?server_id={sid}").get_json() for _ in range(2)]
    assert (
        answers[0]
        == answers[1]
        == {
            "ok": True,
            "error": "",
            "dags": [{"dag_id": "example_quick", "label": "Example Quick", "paused": False}],
        }
    )
    assert client.lists == 1
