"""Redirect targets from the request (Flask-Admin ``url=``, Flask-Security ``next=``) stay on this site."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask, redirect

from console import create_app
from console.extensions import db
from console.models import LoginAttempt
from console.security.redirects import UNSAFE_RETURN_URL_MESSAGE, is_same_site_path, keep_redirects_on_site
from tests.conftest import PASSWORD, Auth, base_config, csrf_token, empty_database, make_user


@pytest.fixture(scope="module")
def module_app(database_url: str) -> Iterator[Flask]:
    """One app for the module's many cases: building one per case was most of their time."""
    app = create_app(base_config(database_url))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(module_app: Flask) -> Iterator[Flask]:
    """The module's app, its database emptied after every test."""
    yield module_app
    empty_database(module_app)


OFF_SITE = [
    "http:/evil.example",
    "https:/evil.example",
    "http:evil.example",
    "http://evil.example/",
    "https://evil.example/admin/",
    "HTTPS://evil.example",
    "//evil.example",
    "///evil.example",
    "////evil.example",
    "\\\\evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    " //evil.example",
    "\t//evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\x00//evil.example",
    "/%09/evil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "/%252F/evil.example",
    "/%25252F%25252Fevil.example",
    "/\u200b/evil.example",
    "/\uff0f/evil.example",
    "\uff0f\uff0fevil.example",
    "/\u3002/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "admin/",
    "",
]
ON_SITE = ["/admin/", "/admin/tasks/?page=2", "/admin/dags/1/my_dag#runs", "/admin/tasks/?search=a%20b&sort=1"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_off_site_and_ambiguous_targets_are_refused(target: str) -> None:
    assert is_same_site_path(target) is False


@pytest.mark.parametrize("target", ON_SITE)
def test_paths_on_this_site_are_accepted(target: str) -> None:
    assert is_same_site_path(target) is True


def test_flask_admin_own_check_lets_a_single_slash_scheme_through(app: Flask) -> None:
    """Why the console checks ``url=`` itself: Flask-Admin 2.2 calls this value safe."""
    from flask_admin.helpers import is_safe_url

    with app.test_request_context("/admin/"):
        assert is_safe_url("http:/evil.example") is True


@pytest.mark.parametrize("target", OFF_SITE)
def test_flask_admin_url_param_off_site_is_refused(login_as: Auth, client, target: str) -> None:
    login_as("viewer")
    response = client.get("/admin/tasks/details/", query_string={"id": "99999", "url": target})
    assert (response.status_code, "Location" in response.headers) == (400, False)
    assert UNSAFE_RETURN_URL_MESSAGE in response.get_data(as_text=True)


def test_flask_admin_url_param_on_site_is_followed(login_as: Auth, client) -> None:
    login_as("viewer")
    response = client.get("/admin/tasks/details/", query_string={"id": "99999", "url": "/admin/tasks/?page=2"})
    assert (response.status_code, response.headers["Location"]) == (302, "/admin/tasks/?page=2")


@pytest.mark.parametrize("target", OFF_SITE)
def test_sign_in_with_an_off_site_next_stays_on_site_and_succeeds(app: Flask, target: str) -> None:
    make_user(app, "viewer@example.com", "viewer")
    locations = []
    for where in ("query", "form"):
        client = app.test_client()
        data = {"email": "viewer@example.com", "password": PASSWORD, "csrf_token": csrf_token(client, "/login")}
        if where == "form":
            data["next"] = target
        response = client.post("/login", query_string={"next": target} if where == "query" else None, data=data)
        locations.append((response.status_code, is_same_site_path(response.headers.get("Location"))))
    assert locations == [(302, True), (302, True)]
    with app.app_context():
        reasons = db.session.scalars(sa.select(LoginAttempt.reason)).all()
    assert reasons == ["ok", "ok"]


def test_sign_in_with_a_next_on_this_site_goes_there(app: Flask) -> None:
    make_user(app, "viewer@example.com", "viewer")
    client = app.test_client()
    data = {"email": "viewer@example.com", "password": PASSWORD, "csrf_token": csrf_token(client, "/login")}
    response = client.post("/login", query_string={"next": "/admin/tasks/?page=2"}, data=data)
    assert response.headers["Location"] == "/admin/tasks/?page=2"


def test_an_off_site_redirect_from_any_view_goes_home_instead(app: Flask) -> None:
    with app.test_request_context("/admin/"):
        response = keep_redirects_on_site(redirect("http:/evil.example"))  # type: ignore[arg-type]
    assert response.headers["Location"] == "/admin/"


def test_redirects_to_add_a_trailing_slash_still_work(login_as: Auth, client) -> None:
    login_as("viewer")
    response = client.get("/admin/tasks")
    assert (response.status_code, response.headers["Location"]) == (308, "http://localhost/admin/tasks/")
