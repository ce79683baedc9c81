"""Faults a real Airflow cannot produce on demand, injected with fake Airflows: slow, 5xx,
refused credentials, not Airflow at all.  Every DAG screen must answer in time, with a
banner naming the server and the reason, and never a 500."""

from __future__ import annotations

import html as html_module
import re
from collections.abc import Callable

import pytest
from flask import Flask

from console.extensions import db
from tests.fakes import FakeAirflow, Reply

#: What each faulty server answers to every request.
FAULTS = {
    "slow": Reply(200, {}, delay=2.0),
    "error": Reply(500, body=b"Internal Server Error", headers={"Content-Type": "text/plain"}),
    "refuses": Reply(401, {"detail": "Invalid credentials"}),
    # a proxy or login page instead of the API
    "html": Reply(200, body=b"<html><body>Please sign in</body></html>", headers={"Content-Type": "text/html"}),
    "hang": Reply(200, {}, delay=60),  # no answer until the test ends
}


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    """The production cache type: the other servers' status is asked once, not on every page."""
    return app_factory(CACHE_TYPE="SimpleCache")


@pytest.fixture
def fakes(start_fake: Callable[[FakeAirflow], FakeAirflow]) -> Callable[[str], FakeAirflow]:
    """Start a fake Airflow answering every request with one of the ``FAULTS``."""
    return lambda fault: start_fake(FakeAirflow(FAULTS[fault], tokens=False))


def register(app: Flask, name: str, url: str, *, read_timeout: float = 0.3, auth_kind: str = "token") -> int:
    from console.services import servers

    with app.app_context():
        server = servers.register_server(
            name=name, base_url=url, username="admin", secret="not-a-real-secret", auth_kind=auth_kind
        )
        server.read_timeout = read_timeout
        server.connect_timeout = 0.5
        db.session.commit()
        return server.id


def banners(html: str) -> dict[str, str]:
    found = re.findall(r'data-server="([^"]+)">.*?<div class="small">(.*?)</div>', html, re.S)
    return {server: html_module.unescape(reason) for server, reason in found}


@pytest.fixture
def faulty(app: Flask, fakes: Callable[..., FakeAirflow]) -> dict[str, int]:
    """Four faulty servers: slow, answering 500, refusing the login, and not Airflow."""
    return {
        "slow": register(app, "slow", fakes("slow").url),
        "broken": register(app, "broken", fakes("error").url),
        "locked": register(app, "locked", fakes("refuses").url, auth_kind="password"),
        "proxy": register(app, "proxy", fakes("html").url),
    }


EXPECTED_REASONS = {
    "slow": "no answer within 0.3 s after 3 tries",
    "broken": "Airflow answered 500",
    "locked": "login refused for user 'admin'",
    "proxy": "the answer is not JSON (text/html)",
}


def test_fake_airflow_faults_show_one_banner_per_server_on_the_list(login_as, faulty) -> None:
    client = login_as("viewer")
    response = client.get("/admin/dags/")
    assert response.status_code == 200
    found = banners(response.get_data(as_text=True))
    assert set(found) == set(EXPECTED_REASONS)
    for name, reason in EXPECTED_REASONS.items():
        assert reason in found[name], (name, found[name])
    assert "No server answered" in response.get_data(as_text=True)


@pytest.mark.parametrize("name", sorted(EXPECTED_REASONS))
def test_fake_airflow_faults_on_every_single_server_screen(login_as, faulty, name: str) -> None:
    client = login_as("operator")
    base = f"/admin/dags/{faulty[name]}/some_dag"
    for url in (f"{base}/", f"{base}/runs/r1/", f"{base}/trigger", f"{base}/runs/r1/tasks/t/logs/1"):
        response = client.get(url)
        assert response.status_code == 200, url
        found = banners(response.get_data(as_text=True))
        assert EXPECTED_REASONS[name] in found[name], (url, found)
        assert set(found) == set(EXPECTED_REASONS), url  # the others' banners too
    lines = client.get(f"{base}/runs/r1/tasks/t/logs/1/lines")
    assert lines.status_code == 502
    assert EXPECTED_REASONS[name] in lines.get_json()["failure"]["message"]
    download = client.get(f"{base}/runs/r1/tasks/t/logs/1/download")
    assert download.status_code == 502
    assert EXPECTED_REASONS[name] in banners(download.get_data(as_text=True))[name]

    paused = login_as.post(f"{base}/paused", {"paused": "1"})
    assert paused.status_code == 302
    shown = html_module.unescape(client.get(paused.headers["Location"]).get_data(as_text=True))
    assert EXPECTED_REASONS[name] in shown and name in shown
    trigger = login_as.post(f"{base}/trigger", {})
    assert trigger.status_code == 200  # the form again, with the reason
    shown = html_module.unescape(trigger.get_data(as_text=True))
    assert EXPECTED_REASONS[name] in shown and name in shown


def test_fake_airflow_hanging_server_is_cut_off_by_the_fan_out_deadline(app_factory, fakes) -> None:
    from tests.conftest import Auth

    app = app_factory(DAGS_FANOUT_DEADLINE_SECONDS=1.0, CACHE_TYPE="NullCache")
    hanging = fakes("hang")
    register(app, "hanging", hanging.url, read_timeout=30)
    client = app.test_client()
    Auth(app, client)("viewer")
    response = client.get("/admin/dags/")
    assert hanging.answered() == 0  # the page came back while the server still hung
    assert banners(response.get_data(as_text=True)) == {"hanging": "no answer within 1 s"}


def test_fake_airflow_failures_are_cached_briefly_with_the_list(app_factory, fakes) -> None:
    from tests.conftest import Auth

    app = app_factory(CACHE_TYPE="SimpleCache", CACHE_SECONDS={"dag_list": 60})
    fake = fakes("error")
    register(app, "broken", fake.url)
    client = app.test_client()
    Auth(app, client)("viewer")
    assert "broken" in banners(client.get("/admin/dags/").get_data(as_text=True))
    asked = len(fake.seen)
    assert "broken" in banners(client.get("/admin/dags/").get_data(as_text=True))
    assert len(fake.seen) == asked  # the second view came from the cache


def test_a_secret_that_cannot_be_decrypted_is_a_banner_not_a_500(app, login_as) -> None:
    from console.models import AirflowServer

    server_id = register(app, "rekeyed", "http://127.0.0.1:9", auth_kind="password")
    with app.app_context():
        db.session.get(AirflowServer, server_id).secret_ciphertext = "encrypted-with-an-old-key"
        db.session.commit()
    client = login_as("operator")
    for url in ("/admin/dags/", f"/admin/dags/{server_id}/some_dag/", f"/admin/dags/{server_id}/some_dag/trigger"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "cannot be decrypted" in banners(response.get_data(as_text=True))["rekeyed"], url
    paused = login_as.post(f"/admin/dags/{server_id}/some_dag/paused", {"paused": "1"})
    assert "cannot be decrypted" in client.get(paused.headers["Location"]).get_data(as_text=True)
