"""Sign-in, sign-out, CSRF, rate limiting, headers and password hashes.

Guessing limits: test_sign_in_throttle.py; redirect targets: test_redirects.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import User
from tests.conftest import PASSWORD, Auth, make_user


def test_sign_in_lands_on_admin_home_and_sign_out(client, login_as) -> None:
    response = login_as.login("nobody@example.com")
    assert response.status_code == 200
    assert "Invalid email or password" in response.get_data(as_text=True)
    login_as("viewer")
    home = client.get("/admin/")
    assert home.status_code == 200
    assert "viewer@example.com" in home.get_data(as_text=True)
    out = login_as.post("/logout")
    assert out.status_code == 302
    assert client.get("/admin/").status_code == 302


def test_logout_by_get_is_not_allowed(client, login_as) -> None:
    login_as("viewer")
    assert client.get("/logout").status_code == 405
    assert client.get("/admin/").status_code == 200


def test_every_state_changing_post_without_csrf_is_refused(app: Flask, client, login_as) -> None:
    login_as("admin")
    refused = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        url = rule.rule.replace("<int:", "<").replace("<path:", "<")
        url = __import__("re").sub(r"<[^>]+>", "1", url)
        response = client.post(url, data={"name": "x", "email": "x@example.com"})
        if response.status_code != 400 or "CSRF" not in response.get_data(as_text=True):
            refused.append(f"{url} -> {response.status_code}")
    assert refused == [], "POST routes that did not refuse a missing CSRF token: " + ", ".join(refused)


def test_login_without_csrf_is_refused(client, app) -> None:
    make_user(app, "viewer@example.com", "viewer")
    response = client.post("/login", data={"email": "viewer@example.com", "password": PASSWORD})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_sign_in_rate_limit_per_address(app_factory) -> None:
    app = app_factory(LOGIN_RATE_LIMIT_PER_MINUTE=3, LOGIN_MAX_FAILURES=100)
    client = app.test_client()
    auth = Auth(app, client)
    codes = [auth.login("ghost@example.com", "whatever-password").status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200]
    assert codes[3] == 429


def test_password_hash_is_bcrypt_and_long_passwords_work(app: Flask, login_as) -> None:
    long_password = "p" * 100
    unicode_password = "Ünïcödé pässwörd ½"
    make_user(app, "long@example.com", "viewer", long_password)
    make_user(app, "uni@example.com", "viewer", unicode_password)
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == "long@example.com")).one()
        assert user.password.startswith("$2b$")
    assert login_as.login("long@example.com", long_password).status_code == 302
    login_as.post("/logout")
    assert login_as.login("long@example.com", "p" * 99).status_code == 200
    assert login_as.login("uni@example.com", unicode_password).status_code == 302


def test_security_headers(client) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_session_cookie_flags(app_factory) -> None:
    app = app_factory(SESSION_COOKIE_SECURE=True)
    client = app.test_client()
    response = client.get("/login", base_url="https://localhost")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie


def test_password_hashes_never_appear_in_users_screen(app: Flask, client, login_as) -> None:
    login_as("admin")
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == "admin@example.com")).one()
        password_hash, user_id = user.password, user.id
    for path in ["/admin/users/", f"/admin/users/details/?id={user_id}", f"/admin/users/edit/?id={user_id}"]:
        body = client.get(path).get_data(as_text=True)
        assert password_hash not in body
        assert "$2b$" not in body


def test_healthz_and_readyz(client) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["database"]["ok"] is True


def test_readyz_reports_unreachable_database() -> None:
    from console import create_app
    from tests.conftest import base_config

    broken = create_app(base_config("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"]["ok"] is False
