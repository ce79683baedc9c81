"""Users screen (admin only) and the audit history of users and roles."""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
from flask import Flask
from sqlalchemy_continuum import version_class

from console.extensions import db
from console.models import Role, User
from tests.conftest import PASSWORD, Auth, csrf_token, make_user


def role_id(app: Flask, name: str) -> int:
    with app.app_context():
        from console.services.users import ensure_roles

        ensure_roles()
        db.session.commit()
        return db.session.scalars(sa.select(Role.id).where(Role.name == name)).one()


def user(app: Flask, email: str) -> User | None:
    with app.app_context():
        row = db.session.scalars(sa.select(User).where(User.email == email)).first()
        if row is not None:
            _ = row.role_names
            db.session.expunge(row)
        return row


def test_admin_creates_user_with_generated_password_shown_once(app: Flask, client, login_as) -> None:
    login_as("admin")
    response = login_as.post(
        "/admin/users/new/",
        {"email": "new@example.com", "roles": str(role_id(app, "viewer")), "active": "y", "new_password": ""},
    )
    body = response.get_data(as_text=True)
    match = re.search(r'data-testid="password">([^<]+)<', body)
    assert response.status_code == 200 and match, body[:2000]
    password = match.group(1)
    assert body.count(password) == 1
    assert response.headers["Cache-Control"] == "no-store"
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    session = app.session_interface.get_signing_serializer(app).loads(cookie.value)  # type: ignore[union-attr]
    assert password not in json.dumps(session, default=str)
    created = user(app, "new@example.com")
    assert created is not None and created.role_names == ["viewer"]
    assert Auth(app, app.test_client()).login("new@example.com", password).status_code == 302
    assert password not in client.get("/admin/users/").get_data(as_text=True)


def signed_out(client) -> bool:
    response = client.get("/admin/")
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_admin_setting_a_password_on_the_users_screen_ends_the_users_sessions(app: Flask, login_as) -> None:
    make_user(app, "victim@example.com", "viewer")
    victim = app.test_client()
    assert Auth(app, victim).login("victim@example.com").status_code == 302
    assert not signed_out(victim)
    login_as("admin")
    target = user(app, "victim@example.com")
    login_as.post(
        f"/admin/users/edit/?id={target.id}",
        {
            "email": "victim@example.com",
            "roles": str(role_id(app, "viewer")),
            "active": "y",
            "new_password": "a brand new password",
        },
    )
    assert signed_out(victim)
    assert Auth(app, victim).login("victim@example.com", "a brand new password").status_code == 302


def test_changing_ones_own_password_ends_the_other_sessions(app: Flask) -> None:
    make_user(app, "me@example.com", "viewer")
    laptop, phone = app.test_client(), app.test_client()
    for device in (laptop, phone):
        assert Auth(app, device).login("me@example.com").status_code == 302
    response = laptop.post(
        "/change",
        data={
            "password": PASSWORD,
            "new_password": "another long password",
            "new_password_confirm": "another long password",
            "csrf_token": csrf_token(laptop, "/change"),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    assert signed_out(phone)
    assert not signed_out(laptop)


def test_admin_edits_roles_and_deactivates(app: Flask, login_as) -> None:
    login_as("admin")
    login_as.post(
        "/admin/users/new/",
        {
            "email": "ops@example.com",
            "roles": str(role_id(app, "viewer")),
            "active": "y",
            "new_password": "long enough password",
        },
    )
    target = user(app, "ops@example.com")
    login_as.post(
        f"/admin/users/edit/?id={target.id}",
        {"email": "ops@example.com", "roles": str(role_id(app, "operator")), "active": "y", "new_password": ""},
    )
    assert user(app, "ops@example.com").role_names == ["operator"]
    response = login_as.post(
        "/admin/users/action/", {"action": "deactivate", "rowid": str(target.id)}, follow_redirects=True
    )
    assert "Deactivated: ops@example.com" in response.get_data(as_text=True)
    assert user(app, "ops@example.com").active is False


def test_weak_password_and_missing_role_are_form_errors(app: Flask, login_as) -> None:
    login_as("admin")
    response = login_as.post(
        "/admin/users/new/",
        {"email": "weak@example.com", "roles": str(role_id(app, "viewer")), "active": "y", "new_password": "short"},
        follow_redirects=True,
    )
    assert "at least 12" in response.get_data(as_text=True)
    response = login_as.post(
        "/admin/users/new/", {"email": "norole@example.com", "active": "y", "new_password": ""}, follow_redirects=True
    )
    assert "at least one role" in response.get_data(as_text=True)
    assert user(app, "weak@example.com") is None and user(app, "norole@example.com") is None


def test_admin_cannot_remove_the_last_admin(app: Flask, login_as) -> None:
    login_as("admin")
    me = user(app, "admin@example.com")
    response = login_as.post(
        f"/admin/users/edit/?id={me.id}",
        {"email": "admin@example.com", "roles": str(role_id(app, "viewer")), "active": "y", "new_password": ""},
        follow_redirects=True,
    )
    assert "no active admin" in response.get_data(as_text=True)
    assert user(app, "admin@example.com").role_names == ["admin"]


def test_user_versions_record_actor_and_never_the_password(app: Flask, login_as) -> None:
    login_as("admin")
    login_as.post(
        "/admin/users/new/",
        {
            "email": "audited@example.com",
            "roles": str(role_id(app, "viewer")),
            "active": "y",
            "new_password": "long enough password",
        },
    )
    UserVersion = version_class(User)
    assert "password" not in UserVersion.__table__.c
    assert "fs_uniquifier" not in UserVersion.__table__.c
    with app.app_context():
        version = db.session.scalars(sa.select(UserVersion).where(UserVersion.email == "audited@example.com")).one()
        assert version.transaction.actor == "admin@example.com"
        assert version.transaction.user.email == "admin@example.com"
        assert version.operation_type == 0
