"""Audit events (category ``auth``) for sign-in, its failures, sign-out, password changes and refusals.

* Every password check (sign-in, ``/verify``, the current password on ``/change``) is
  recorded with the :data:`console.security.throttle.password_checked` signal, in the same
  transaction as its ``login_attempt`` row: ``sign_in``/``verify``/``password_check``, outcome
  ``success``, ``failed`` (a wrong email or password: the reason, never the password) or
  ``refused`` (the account's delay was running). A failed or refused attempt names the
  account tried as its object and ``anonymous`` as its actor (the claim is not proven).
* An address over its rate limit (429 on a password endpoint): ``sign_in`` refused.
* Sign-out (``sign_out``) and a changed password (``password_change``, which stands for the
  user row's masked change: one action, one record).
* A signed-in person refused (403) on a state-changing request (POST, PUT, PATCH, DELETE):
  the endpoint as the action, outcome ``refused``, its target from the URL. Refused page
  reads (GET) are not recorded: following a link one's role does not allow changes nothing,
  and the screens do not offer such links.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, request
from flask_login import current_user, user_logged_out
from flask_security.signals import password_changed, user_authenticated
from sqlalchemy.exc import SQLAlchemyError

from console.extensions import db
from console.models import AirflowServer
from console.security import throttle
from console.services import audit, audit_changes

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CHECK_ACTIONS = {"security.login": "sign_in", "security.verify": "verify", "security.change_password": "password_check"}
REASONS = {
    throttle.BAD_CREDENTIALS: "wrong email or password",
    throttle.THROTTLED: "too many failed attempts: the account's delay was running",
}


def on_password_checked(_app: Any, *, email: str, succeeded: bool, reason: str) -> None:
    signed_in = bool(getattr(current_user, "is_authenticated", False))
    action = CHECK_ACTIONS.get(request.endpoint or "", "sign_in")
    if succeeded and action == "password_check":
        return  # the password_change event records the change this check allowed
    audit.record_event(
        action,
        actor=str(current_user.email) if signed_in else (email if succeeded else ANONYMOUS),
        category="auth",
        object_type="user",
        object_id=email,
        outcome="success" if succeeded else ("refused" if reason == throttle.THROTTLED else "failed"),
        error=None if succeeded else REASONS.get(reason, reason),
    )


def on_password_changed(_app: Any, *, user: Any, **_kwargs: Any) -> None:
    audit_changes.covered(user)
    audit.record_event(
        "password_change", actor=str(user.email), category="auth", object_type="user", object_id=str(user.email)
    )


def on_authenticated(_app: Any, *, user: Any, **_kwargs: Any) -> None:
    audit_changes.covered(user)  # a password hash re-computed on sign-in is no row change to show


def on_logged_out(_app: Any, *, user: Any, **_kwargs: Any) -> None:
    if user is None or not getattr(user, "is_authenticated", False):
        return
    audit.record_event(
        "sign_out", actor=str(user.email), category="auth", object_type="user", object_id=str(user.email)
    )
    db.session.commit()


def _target() -> tuple[str | None, str | None]:
    args = [str(v) for v in (request.view_args or {}).values()]
    target = "/".join(args) or request.values.get("id") or ",".join(request.form.getlist("rowid"))
    return (request.blueprint or None), (target or None)


def record_refusals(response: Response) -> Response:
    """After a 403 on a state change by a signed-in person, or a 429 on a password form: one event."""
    status = response.status_code
    refused = status == 403 and request.method not in SAFE_METHODS and current_user.is_authenticated
    limited = status == 429 and request.endpoint in throttle.PASSWORD_ENDPOINTS
    if not (refused or limited):
        return response
    try:
        _record_refusal(limited)
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not record the refusal of %s %s", request.method, request.path)
    return response


def _server_name(server_id: Any) -> str | None:
    server = db.session.get(AirflowServer, server_id) if isinstance(server_id, int) else None
    return server.name if server is not None else None


def _record_refusal(limited: bool) -> None:
    db.session.rollback()
    args = request.view_args or {}
    object_type, object_id = _target()
    audit.record_event(
        CHECK_ACTIONS.get(request.endpoint or "", "sign_in") if limited else str(request.endpoint),
        actor=str(current_user.email) if current_user.is_authenticated else ANONYMOUS,
        category="auth",
        object_type=object_type,
        object_id=object_id,
        server_name=_server_name(args.get("server_id")),
        dag_id=args.get("dag_id"),
        run_id=args.get("run_id"),
        task_id=args.get("task_id") if isinstance(args.get("task_id"), str) else None,
        outcome="refused",
        error=throttle.ADDRESS_LIMIT_MESSAGE if limited else "your role does not allow this action",
    )
    db.session.commit()


def init_app(app: Flask) -> None:
    throttle.password_checked.connect(on_password_checked, app)
    password_changed.connect(on_password_changed, app)
    user_authenticated.connect(on_authenticated, app)
    user_logged_out.connect(on_logged_out, app)
    app.after_request(record_refusals)
