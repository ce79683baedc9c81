"""Ids never change the path the console asks Airflow for (issue 7, finding 3).

Two layers: the client percent-encodes every path segment (so ``..`` and ``/`` inside an id
stay inside its segment), and the DAG screens answer 404 for ids that cannot be Airflow ids
before any call.  A FAKE Airflow records the raw request paths: a real one would resolve
them before anyone could look.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

import pytest
from flask import Flask

from console.airflow.client import AirflowClient
from console.airflow.errors import AirflowBadRequest, AirflowNotFound
from console.airflow.ids import is_airflow_key, is_run_id
from console.airflow.tokens import TokenCache
from console.extensions import db
from tests.conftest import csrf_token
from tests.fakes import FakeAirflow, Reply


@pytest.fixture
def recording(start_fake: Callable[[FakeAirflow], FakeAirflow]) -> FakeAirflow:
    """A fake Airflow answering 404 to everything (the console must never care)."""
    return start_fake(FakeAirflow(Reply(404, {"detail": "not found"}), tokens=False))


def api_paths(fake: FakeAirflow) -> list[str]:
    """The raw paths of the API requests the fake received."""
    return [seen.path for seen in fake.seen if seen.path.startswith("/api/")]


def client_for(fake: FakeAirflow) -> AirflowClient:
    return AirflowClient(fake.url, static_token="not-a-real-token", name="fake", attempts=1, token_cache=TokenCache())


#: Ids that try to leave their path segment, in the forms a browser, a proxy or a person sends.
HOSTILE_IDS = [
    "..",
    ".",
    "...",
    "%2e%2e",
    "a/../b",
    "a%2Fb",
    "..%2f",
    "../../../details",
    "a\\..\\b",
    "dág_ü",
    "\u2025",  # two dot leader
    "a?b#c",
    "x" * 300,
]


def segments(path: str) -> list[str]:
    return path.split("/")


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_fake_airflow_every_id_stays_inside_its_path_segment(recording: FakeAirflow, hostile: str) -> None:
    client = client_for(recording)
    calls = [
        (lambda: client.get_dag_details(hostile), ["", "api", "v2", "dags", hostile, "details"]),
        (lambda: client.get_dag_run("d", hostile), ["", "api", "v2", "dags", "d", "dagRuns", hostile]),
        (
            lambda: client.get_log("d", "r", hostile, 1),
            ["", "api", "v2", "dags", "d", "dagRuns", "r", "taskInstances", hostile, "logs", "1"],
        ),
    ]
    for call, expected in calls:
        with pytest.raises(AirflowNotFound):
            call()
        sent = segments(recording.seen[-1].path)
        assert [unquote(s) for s in sent] == expected
        assert "." not in sent and ".." not in sent


def test_fake_airflow_an_empty_id_is_refused_before_any_request(recording: FakeAirflow) -> None:
    with pytest.raises(AirflowBadRequest, match="empty"):
        client_for(recording).get_dag_details("")
    assert recording.seen == []


def test_airflow_id_rules_follow_airflow_3_3() -> None:
    assert all(is_airflow_key(k) for k in ("example_quick", "group.task", "a-b.c_d", "dág_ü", "x" * 250))
    assert not any(is_airflow_key(k) for k in ("", "..", "a..b", "a/b", "a b", "a%2Fb", "\u2025", "x" * 251))
    assert all(is_run_id(r) for r in ("manual__2026-01-01T00:00:00+00:00", "scheduled__x~y:z+1", "my run"))
    assert not any(is_run_id(r) for r in ("", "..", "a..b", "a/b", "a\\b", "a\x00b", "x" * 251))


# --- the DAG screens ------------------------------------------------------------------------


def register(app: Flask, url: str) -> int:
    from console.services import servers

    with app.app_context():
        server = servers.register_server(name="rec", base_url=url, username="admin", secret="tok", auth_kind="token")
        server.read_timeout = 2
        db.session.commit()
        return server.id


REJECTED_DAG_IDS = ["..", "%2e%2e", "%2E%2E", "a..b", "a%20b", "%E2%80%A5", "a%00b", "x" * 251]
REJECTED_RUN_IDS = ["..", "%2e%2e", ".%2E", "a..b", "a%5Cb", "a%00b", "a%0Ab", "x" * 251]


@pytest.mark.parametrize("dag_id", REJECTED_DAG_IDS)
def test_fake_airflow_dag_screens_refuse_non_airflow_ids_before_any_call(
    app: Flask, login_as, recording: FakeAirflow, dag_id: str
) -> None:
    client = login_as("operator")
    token = csrf_token(client, "/admin/")  # before the server exists: the home page lists DAGs
    server_id = register(app, recording.url)
    base = f"/admin/dags/{server_id}"
    for url in (
        f"{base}/{dag_id}/",
        f"{base}/{dag_id}/trigger",
        f"{base}/ok/runs/r1/tasks/{dag_id}/logs/1",
        f"{base}/ok/runs/r1/tasks/{dag_id}/logs/1/lines",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"{base}/{dag_id}/paused", data={"paused": "1", "csrf_token": token}).status_code == 404
    assert api_paths(recording) == []


@pytest.mark.parametrize("run_id", REJECTED_RUN_IDS)
def test_fake_airflow_run_screens_refuse_non_airflow_run_ids_before_any_call(
    app: Flask, login_as, recording: FakeAirflow, run_id: str
) -> None:
    client = login_as("operator")
    token = csrf_token(client, "/admin/")
    server_id = register(app, recording.url)
    base = f"/admin/dags/{server_id}/ok/runs/{run_id}"
    for url in (f"{base}/", f"{base}/tasks/t/logs/1", f"{base}/tasks/t/logs/1/download"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"{base}/mark", data={"state": "failed", "csrf_token": token}).status_code == 404
    assert api_paths(recording) == []


@pytest.mark.parametrize("path", ["a%2F..%2Fb", "a%2Fb", "..%2f", "a/../b"])
def test_fake_airflow_slashes_in_ids_never_reach_airflow(
    app: Flask, login_as, recording: FakeAirflow, path: str
) -> None:
    server_id = register(app, recording.url)
    client = login_as("viewer")
    assert client.get(f"/admin/dags/{server_id}/{path}/", follow_redirects=True).status_code == 404
    assert api_paths(recording) == []


def test_fake_airflow_a_unicode_dag_id_is_asked_for_encoded(app: Flask, login_as, recording: FakeAirflow) -> None:
    server_id = register(app, recording.url)
    client = login_as("viewer")
    response = client.get(f"/admin/dags/{server_id}/d%C3%A1g/")
    assert response.status_code == 404  # Airflow (the fake) has no such DAG
    assert "/api/v2/dags/d%C3%A1g/details" in api_paths(recording)
