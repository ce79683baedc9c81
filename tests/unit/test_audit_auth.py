"""Sign-in, its failures and refusals, sign-out, password changes and refused requests are audited
(category ``auth``), never with the password."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import AuditEvent
from tests.conftest import PASSWORD, Auth, csrf_token, make_user
from tests.unit.test_sign_in_throttle import OWNER, WRONG, client_at, post_password, sign_in, signed_in

NEW_PASSWORD = "a brand new passphrase"


def events(app: Flask, category: str = "auth") -> list[tuple[str | None, ...]]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.category == category).order_by(AuditEvent.id)
        ).all()
        return [(r.actor, r.action, r.object_id, r.outcome, r.error, r.user.email if r.user else None) for r in rows]


def every_stored_value(app: Flask) -> str:
    with app.app_context():
        rows = db.session.execute(sa.select(AuditEvent.__table__)).all()
        return repr(rows)


def test_sign_in_and_a_failed_one(app: Flask) -> None:
    make_user(app, OWNER, "viewer")
    client = client_at(app)
    sign_in(client, password=WRONG)
    sign_in(client, "nobody@example.com", WRONG)
    assert sign_in(client)[0] == 302
    assert events(app) == [
        ("anonymous", "sign_in", OWNER, "failed", "wrong email or password", None),
        ("anonymous", "sign_in", "nobody@example.com", "failed", "wrong email or password", None),
        (OWNER, "sign_in", OWNER, "success", None, OWNER),
    ]
    assert WRONG not in every_stored_value(app) and PASSWORD not in every_stored_value(app)
    # the sign-in bookkeeping columns are no audited row change
    assert [e[1] for e in events(app, "console") if e[1].endswith(".update")] == []


def test_throttled_and_rate_limited_attempts_are_refusals(app_factory) -> None:
    app = app_factory(LOGIN_MAX_FAILURES=1, LOGIN_RATE_LIMIT_PER_MINUTE=4)
    make_user(app, OWNER, "viewer")
    client = client_at(app)
    codes = [sign_in(client, password=WRONG)[0] for _ in range(5)]
    assert codes == [200, 200, 200, 200, 429]
    outcomes = [(e[1], e[3], e[4]) for e in events(app)]
    assert outcomes == [
        ("sign_in", "failed", "wrong email or password"),
        ("sign_in", "refused", "too many failed attempts: the account's delay was running"),
        ("sign_in", "refused", "too many failed attempts: the account's delay was running"),
        ("sign_in", "refused", "too many failed attempts: the account's delay was running"),
        ("sign_in", "refused", "Too many attempts from your address. Wait a minute and try again."),
    ]


def test_sign_out_and_password_change(app: Flask) -> None:
    client = signed_in(app)
    assert post_password(client, "/change", WRONG)[0] == 200
    assert post_password(client, "/change", PASSWORD)[0] == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert [(e[0], e[1], e[3]) for e in events(app)] == [
        (OWNER, "sign_in", "success"),
        (OWNER, "password_check", "failed"),
        (OWNER, "password_change", "success"),
        (OWNER, "sign_out", "success"),
    ]
    # The user row's masked change is recorded by the password_change event alone.
    assert [e[1] for e in events(app, "console") if e[1].endswith(".update")] == []
    assert NEW_PASSWORD not in every_stored_value(app)


def refused(app: Flask) -> list[tuple[str | None, ...]]:
    return [e for e in events(app) if e[3] == "refused"]


def test_a_refused_change_is_recorded_a_refused_read_is_not(app: Flask, login_as: Auth) -> None:
    login_as("viewer")
    assert login_as.client.get("/admin/users/").status_code == 403
    assert refused(app) == []
    assert login_as.post("/admin/tasks/new/", {"name": "x"}).status_code == 403
    assert refused(app) == [
        (
            "viewer@example.com",
            "tasks.create_view",
            None,
            "refused",
            "your role does not allow this action",
            "viewer@example.com",
        )
    ]


def test_a_list_action_above_the_role_is_refused_not_skipped(app: Flask, login_as: Auth) -> None:
    login_as("operator")
    response = login_as.post("/admin/tasks/action/", {"action": "delete", "rowid": ["5", "6"]})
    assert response.status_code == 403
    assert [(e[1], e[2]) for e in refused(app)] == [("tasks.action_view", "5,6")]
