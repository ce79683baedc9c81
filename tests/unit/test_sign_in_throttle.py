"""Password guessing limits on sign-in, /verify and /change; sessions only (no remember-me, no tokens).

Delays are checked against the timestamps in ``login_attempt``: a test moves
its rows back in time instead of waiting.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from console.config import ConfigError, DefaultConfig, validate_config
from console.extensions import db
from console.models import LoginAttempt, User
from console.security.throttle import delay_after
from tests.conftest import PASSWORD, base_config, csrf_token, make_user

WRONG = "wrong password!!"
OWNER = "viewer@example.com"


def client_at(app: Flask, address: str = "127.0.0.1") -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def sign_in(client: FlaskClient, email: str = OWNER, password: str = PASSWORD) -> tuple[int, str]:
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    return response.status_code, response.get_data(as_text=True)


def reasons(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(LoginAttempt.reason).order_by(LoginAttempt.id)))


def move_attempts_back(app: Flask, seconds: int) -> None:
    with app.app_context():
        for attempt in db.session.scalars(sa.select(LoginAttempt)):
            attempt.attempted_at -= timedelta(seconds=seconds)
        db.session.commit()


def test_delay_starts_after_max_failures_doubles_and_is_capped() -> None:
    config = {"LOGIN_MAX_FAILURES": 5, "LOGIN_DELAY_BASE_SECONDS": 30, "LOGIN_DELAY_MAX_SECONDS": 300}
    assert [delay_after(n, config) for n in range(3, 12)] == [0, 0, 30, 60, 120, 240, 300, 300, 300]


def test_after_max_failures_even_the_right_password_waits(app: Flask) -> None:
    make_user(app, OWNER, "viewer")
    client = client_at(app)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        sign_in(client, password=WRONG)
    code, body = sign_in(client)
    assert (code, "Wait 30 seconds" in body) == (200, True)
    assert reasons(app) == ["bad-credentials"] * app.config["LOGIN_MAX_FAILURES"] + ["throttled"]


def test_attempts_during_the_delay_do_not_lengthen_it(app: Flask) -> None:
    make_user(app, OWNER, "viewer")
    client = client_at(app)
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 3):
        sign_in(client, password=WRONG)
    move_attempts_back(app, app.config["LOGIN_DELAY_BASE_SECONDS"])
    assert sign_in(client)[0] == 302


def test_the_next_failure_doubles_the_delay(app: Flask) -> None:
    make_user(app, OWNER, "viewer")
    client = client_at(app)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        sign_in(client, password=WRONG)
    move_attempts_back(app, app.config["LOGIN_DELAY_BASE_SECONDS"])
    sign_in(client, password=WRONG)
    code, body = sign_in(client)
    assert (code, "Wait 60 seconds" in body) == (200, True)


def test_a_stranger_cannot_keep_the_owner_out_of_an_address_it_used(app: Flask) -> None:
    make_user(app, OWNER, "viewer")
    owner_desk = client_at(app, "10.0.0.7")
    assert sign_in(owner_desk)[0] == 302
    stranger = client_at(app, "203.0.113.9")
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 5):
        sign_in(stranger, password=WRONG)
    assert "Wait" in sign_in(stranger)[1]
    assert sign_in(client_at(app, "10.0.0.7"))[0] == 302


def test_a_correct_password_with_a_bad_next_is_not_a_failure(app: Flask) -> None:
    make_user(app, OWNER, "viewer")
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 1):
        client = client_at(app)
        token = csrf_token(client, "/login?next=http:/evil.example")
        client.post(
            "/login?next=http:/evil.example",
            data={"email": OWNER, "password": PASSWORD, "csrf_token": token, "next": "http:/evil.example"},
        )
    assert reasons(app) == ["ok"] * (app.config["LOGIN_MAX_FAILURES"] + 1)


def signed_in(app: Flask, address: str = "127.0.0.1") -> FlaskClient:
    make_user(app, OWNER, "viewer")
    client = client_at(app, address)
    assert sign_in(client)[0] == 302
    return client


def post_password(client: FlaskClient, path: str, password: str) -> tuple[int, str]:
    data = {"password": password, "csrf_token": csrf_token(client, path)}
    if path == "/change":
        data |= {"new_password": "a brand new passphrase", "new_password_confirm": "a brand new passphrase"}
    response = client.post(path, data=data)
    return response.status_code, response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/verify", "/change"])
def test_password_checks_after_sign_in_share_the_accounts_delay(app: Flask, path: str) -> None:
    client = signed_in(app)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        post_password(client, path, WRONG)
    code, body = post_password(client, path, PASSWORD)
    assert (code, "Wait 30 seconds" in body) == (200, True)
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == OWNER)).one()
        from flask_security.utils import verify_password

        assert verify_password(PASSWORD, user.password)


@pytest.mark.parametrize("path", ["/verify", "/change"])
def test_password_checks_after_sign_in_count_against_the_address(app_factory, path: str) -> None:
    app = app_factory(LOGIN_RATE_LIMIT_PER_MINUTE=3, LOGIN_MAX_FAILURES=100)
    client = signed_in(app)
    codes = [post_password(client, path, WRONG)[0] for _ in range(3)]
    assert codes == [200, 200, 429]


def test_behind_a_trusted_proxy_the_limit_is_per_client(app_factory) -> None:
    app = app_factory(TRUSTED_PROXY_COUNT=1, LOGIN_RATE_LIMIT_PER_MINUTE=3, LOGIN_MAX_FAILURES=100)
    attacker = client_at(app, "10.0.0.1")
    attacker.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
    for _ in range(3):
        sign_in(attacker, "ghost@example.com", WRONG)
    assert sign_in(attacker, "ghost@example.com", WRONG)[0] == 429
    make_user(app, OWNER, "viewer")
    colleague = client_at(app, "10.0.0.1")
    colleague.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.20"
    assert sign_in(colleague)[0] == 302


def test_without_a_trusted_proxy_forwarded_for_is_ignored(app: Flask) -> None:
    client = client_at(app, "10.0.0.1")
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
    sign_in(client, "ghost@example.com", WRONG)
    with app.app_context():
        assert db.session.scalars(sa.select(LoginAttempt.remote_addr)).all() == ["10.0.0.1"]


@pytest.mark.parametrize("key", ["TRUSTED_PROXY_COUNT", "LOGIN_DELAY_MAX_SECONDS"])
def test_negative_limits_are_refused(key: str) -> None:
    config = {k: getattr(DefaultConfig, k) for k in dir(DefaultConfig) if k.isupper()}
    config |= base_config("sqlite://", **{key: -1})
    with pytest.raises(ConfigError, match=key):
        validate_config(config)


def test_remember_me_is_not_offered_and_sets_no_cookie(app: Flask) -> None:
    make_user(app, OWNER, "viewer")
    client = app.test_client()
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": OWNER, "password": PASSWORD, "remember": "y", "csrf_token": token})
    assert response.status_code == 302
    assert (client.get_cookie("console_remember"), client.get_cookie("remember_token")) == (None, None)
    assert 'name="remember"' not in client.get("/login").get_data(as_text=True)


def test_a_remember_cookie_from_an_earlier_version_is_not_read(app: Flask) -> None:
    from flask_login.utils import encode_cookie

    make_user(app, OWNER, "viewer")
    client = app.test_client()
    with app.test_request_context():
        user = db.session.scalars(sa.select(User).where(User.email == OWNER)).one()
        client.set_cookie("remember_token", encode_cookie(user.fs_uniquifier))
    assert client.get("/admin/").status_code == 302


def test_an_auth_token_does_not_authenticate(app: Flask) -> None:
    make_user(app, OWNER, "viewer")
    with app.test_request_context():
        user = db.session.scalars(sa.select(User).where(User.email == OWNER)).one()
        token = user.get_auth_token()
    client = app.test_client()
    by_query = client.get("/admin/", query_string={"auth_token": token})
    by_header = client.get("/admin/", headers={"Authentication-Token": str(token)})
    assert (by_query.status_code, by_header.status_code) == (302, 302)
