"""Shared services down: the database (locked or unreachable) gives 503 with a message and the console
recovers by itself; Redis down leaves sign-in working and shows admins a banner."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import LoginAttempt
from console.services.outages import DATABASE_DOWN_MESSAGE, REDIS_DOWN_MESSAGE, VALUE_REFUSED_MESSAGE
from tests.conftest import PASSWORD, Auth, base_config, build_app, csrf_token, empty_database, make_user

CLOSED_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def sqlite_app(sqlite_url: str) -> Iterator[Flask]:
    """The console on the session's SQLite file with a short busy timeout (a lock outlasts it)."""
    app = build_app(base_config(sqlite_url, SQLITE_BUSY_TIMEOUT_MS=100))
    yield app
    empty_database(app)
    with app.app_context():
        db.engine.dispose()


def attempts(app: Flask) -> int:
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt))
        db.session.remove()
        return int(count or 0)


def test_a_locked_sqlite_database_answers_503_with_a_message_and_the_console_recovers(sqlite_app: Flask) -> None:
    make_user(sqlite_app, "viewer@example.com", "viewer")
    client = sqlite_app.test_client()
    token = csrf_token(client, "/login")
    form = {"email": "viewer@example.com", "password": PASSWORD, "csrf_token": token}
    path = sqlite_app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process writing: nobody else may write
        holder.execute("DELETE FROM login_attempt WHERE 0")
        refused = client.post("/login", data=form)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"]
        assert DATABASE_DOWN_MESSAGE in refused.get_data(as_text=True)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert attempts(sqlite_app) == 0  # nothing half-done
    assert client.get("/admin/").status_code == 302  # not signed in by the refused request
    signed_in = client.post("/login", data={**form, "csrf_token": csrf_token(client, "/login")})
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)[:300]
    assert client.get("/admin/").status_code == 200
    assert attempts(sqlite_app) == 1


@pytest.mark.postgres
def test_an_unreachable_postgres_answers_503_with_a_message() -> None:
    app = build_app(base_config("postgresql+psycopg://nobody@127.0.0.1:1/none", WTF_CSRF_ENABLED=False))
    client = app.test_client()
    page = client.post("/login", data={"email": "a@example.com", "password": PASSWORD})
    assert page.status_code == 503
    assert DATABASE_DOWN_MESSAGE in page.get_data(as_text=True)
    form = {"email": "a@example.com", "password": PASSWORD}
    as_json = client.post("/login", data=form, headers={"Accept": "application/json"})
    assert as_json.status_code == 503 and as_json.get_json() == {"error": DATABASE_DOWN_MESSAGE}
    with app.app_context():
        db.engine.dispose()


@pytest.mark.redis
def test_redis_down_sign_in_works_and_admins_see_a_banner(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(CACHE_TYPE="SimpleCache", REDIS_URL=CLOSED_REDIS)
    assert app.config["CACHE_TYPE"] == "RedisCache"
    admin = Auth(app, app.test_client())
    admin("admin")  # signs in (asserts the 302)
    home = admin.client.get("/admin/")
    assert home.status_code == 200
    assert REDIS_DOWN_MESSAGE in home.get_data(as_text=True)
    viewer = Auth(app, app.test_client())
    viewer("viewer")
    page = viewer.client.get("/admin/")
    assert page.status_code == 200 and REDIS_DOWN_MESSAGE not in page.get_data(as_text=True)


@pytest.mark.redis
def test_no_banner_when_redis_answers(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(CACHE_TYPE="SimpleCache", REDIS_URL="redis://127.0.0.1:6379/0", CACHE_KEY_PREFIX="outages-t:")
    admin = Auth(app, app.test_client())
    admin("admin")
    assert REDIS_DOWN_MESSAGE not in admin.client.get("/admin/").get_data(as_text=True)


def test_an_id_past_32_bits_is_a_400_with_a_message_not_a_500(app: Flask, login_as: Auth) -> None:
    """PostgreSQL refuses the value (400 with a message); SQLite takes it and finds nothing (404)."""
    on_postgres = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    login_as("admin")
    for path in ("/admin/jobs/2147483648/", "/admin/jobs/2147483648/progress"):
        page = login_as.client.get(path)
        assert page.status_code == (400 if on_postgres else 404), (path, page.status_code)
        if on_postgres:
            assert VALUE_REFUSED_MESSAGE in page.get_data(as_text=True)
