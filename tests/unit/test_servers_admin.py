"""Servers screen: admin only, credentials encrypted and never rendered back, bad input refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import AirflowServer
from console.security.secrets import decrypt
from console.services import servers as server_service
from tests.fakes import FakeServer, Reply

SECRET = "s3cr3t-airflow-password"


def server_row(app: Flask, name: str) -> AirflowServer | None:
    with app.app_context():
        row = db.session.scalars(sa.select(AirflowServer).where(AirflowServer.name == name)).first()
        if row is not None:
            db.session.expunge(row)
        return row


def create_form(**overrides: object) -> dict[str, object]:
    form: dict[str, object] = {
        "name": "prod",
        "base_url": "http://airflow.internal:8080/",
        "enabled": "y",
        "auth_kind": "password",
        "username": "console",
        "secret": SECRET,
        "verify_tls": "y",
        "connect_timeout": "3",
        "read_timeout": "10",
        "max_concurrent_triggers": "1",
    }
    form.update(overrides)
    return form


def test_admin_creates_server_secret_encrypted_never_rendered(app: Flask, client, login_as) -> None:
    login_as("admin")
    response = login_as.post("/admin/servers/new/", create_form(), follow_redirects=True)
    assert response.status_code == 200
    row = server_row(app, "prod")
    assert row is not None and row.base_url == "http://airflow.internal:8080"
    assert row.secret_ciphertext and SECRET not in row.secret_ciphertext
    with app.app_context():
        assert decrypt(row.secret_ciphertext) == SECRET
    for path in ["/admin/servers/", f"/admin/servers/details/?id={row.id}", f"/admin/servers/edit/?id={row.id}"]:
        body = client.get(path).get_data(as_text=True)
        assert SECRET not in body and row.secret_ciphertext not in body
    assert "set (changed" in client.get("/admin/servers/").get_data(as_text=True)


def test_editing_without_secret_keeps_it(app: Flask, login_as) -> None:
    login_as("admin")
    login_as.post("/admin/servers/new/", create_form())
    row = server_row(app, "prod")
    login_as.post(f"/admin/servers/edit/?id={row.id}", create_form(secret="", read_timeout="20"))
    edited = server_row(app, "prod")
    assert edited.read_timeout == 20
    assert edited.secret_ciphertext == row.secret_ciphertext


def test_bad_url_and_timeouts_are_form_errors(app: Flask, login_as) -> None:
    login_as("admin")
    response = login_as.post("/admin/servers/new/", create_form(base_url="ftp://nope"), follow_redirects=True)
    assert "Base URL must look like" in response.get_data(as_text=True)
    response = login_as.post("/admin/servers/new/", create_form(read_timeout="-1"), follow_redirects=True)
    assert "Number must be between 0.5 and 300" in response.get_data(as_text=True)
    assert server_row(app, "prod") is None


def test_operator_and_viewer_cannot_see_servers(login_as) -> None:
    client = login_as("operator")
    assert client.get("/admin/servers/").status_code == 403
    assert login_as.post("/admin/servers/new/", create_form()).status_code == 403


def test_fake_airflow_down_test_connection_reports_reason(app: Flask, client, login_as) -> None:
    login_as("admin")
    login_as.post("/admin/servers/new/", create_form(base_url="http://127.0.0.1:9", connect_timeout="1"))
    row = server_row(app, "prod")
    response = login_as.post(
        "/admin/servers/action/", {"action": "test_connection", "rowid": str(row.id)}, follow_redirects=True
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "prod" in body and "connection refused" in body
    assert SECRET not in body


def test_server_changes_are_versioned_without_the_secret(app: Flask, login_as) -> None:
    from sqlalchemy_continuum import version_class

    login_as("admin")
    login_as.post("/admin/servers/new/", create_form())
    ServerVersion = version_class(AirflowServer)
    assert "secret_ciphertext" not in ServerVersion.__table__.c
    with app.app_context():
        versions = db.session.scalars(sa.select(ServerVersion)).all()
        assert len(versions) == 1
        assert versions[0].transaction.actor == "admin@example.com"
        assert versions[0].secret_changed_at is not None


@pytest.fixture
def listener(start_fake: Callable[[FakeServer], FakeServer]) -> FakeServer:
    """Records every request it receives, answering 401."""
    return start_fake(FakeServer(Reply(401)))


def test_fake_listener_gets_no_stored_password_when_the_base_url_changes_without_it(
    app: Flask, login_as, listener: FakeServer
) -> None:
    login_as("admin")
    login_as.post("/admin/servers/new/", create_form(base_url="http://127.0.0.1:9", connect_timeout="1"))
    row = server_row(app, "prod")
    response = login_as.post(f"/admin/servers/edit/?id={row.id}", create_form(base_url=listener.url, secret=""))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Enter the password/token again: changing the base URL requires it" in page
    assert f'value="{listener.url}"' in page  # what was typed is kept
    assert server_row(app, "prod").base_url == "http://127.0.0.1:9"
    login_as.post("/admin/servers/action/", {"action": "test_connection", "rowid": str(row.id)})
    assert listener.seen == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"username": "someone-else"}, "the user name"),
        ({"auth_kind": "token"}, "the authentication"),
        ({"verify_tls": ""}, "TLS verification"),
    ],
)
def test_changing_where_the_credential_goes_requires_it_again(
    app: Flask, login_as, change: dict[str, str], named: str
) -> None:
    login_as("admin")
    login_as.post("/admin/servers/new/", create_form())
    row = server_row(app, "prod")
    response = login_as.post(f"/admin/servers/edit/?id={row.id}", create_form(secret="", **change))
    assert f"changing {named} requires it" in response.get_data(as_text=True)
    assert server_row(app, "prod").updated_at == row.updated_at


def test_with_the_secret_entered_again_the_new_base_url_is_saved(app: Flask, login_as) -> None:
    login_as("admin")
    login_as.post("/admin/servers/new/", create_form())
    row = server_row(app, "prod")
    response = login_as.post(
        f"/admin/servers/edit/?id={row.id}", create_form(base_url="http://airflow.other:8080", secret="new-password")
    )
    assert response.status_code == 302
    edited = server_row(app, "prod")
    with app.app_context():
        assert (edited.base_url, decrypt(edited.secret_ciphertext)) == ("http://airflow.other:8080", "new-password")


def test_the_service_refuses_a_new_base_url_without_the_secret_for_every_caller(app: Flask) -> None:
    with app.app_context():
        server_service.register_server(name="cli", base_url="http://127.0.0.1:9", username="u", secret="p")
        db.session.commit()
        with pytest.raises(server_service.SecretRequired, match="changing the base URL requires it"):
            server_service.register_server(name="cli", base_url="http://127.0.0.1:10", username="u")
        db.session.rollback()
        server_service.register_server(name="cli", base_url="http://127.0.0.1:9", username="u")  # unchanged: fine
