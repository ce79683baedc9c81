"""Sign-in protection: a per-address rate limit and a temporary per-account lockout.

Every attempt is recorded in ``LoginAttempt``. An account is locked for
``LOGIN_LOCKOUT_SECONDS`` once it has ``LOGIN_MAX_FAILURES`` failures within
``LOGIN_FAILURE_WINDOW_SECONDS`` and no success since; an address that makes
more than ``LOGIN_RATE_LIMIT_PER_MINUTE`` attempts a minute is answered 429.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, request
from flask_security.forms import LoginForm

from console.extensions import db
from console.models import LoginAttempt
from console.models.timeutil import utcnow

LOCKED_MESSAGE = "This account is temporarily locked after repeated failed sign-ins. Try again in {minutes} minutes."


def record_attempt(email: str, succeeded: bool, reason: str) -> None:
    """Store one attempt in its own small transaction."""
    db.session.add(
        LoginAttempt(
            email=email.strip().lower()[:255], remote_addr=request.remote_addr, succeeded=succeeded, reason=reason
        )
    )
    db.session.commit()


def locked_for_seconds(email: str) -> int:
    """Seconds until ``email`` may try again, or 0 when it is not locked."""
    cfg = current_app.config
    now = utcnow()
    window_start = now - timedelta(seconds=cfg["LOGIN_FAILURE_WINDOW_SECONDS"])
    email = email.strip().lower()
    last_success = db.session.scalar(
        sa.select(sa.func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.email == email, LoginAttempt.succeeded.is_(True)
        )
    )
    since = max(window_start, last_success) if last_success else window_start
    failures = db.session.execute(
        sa.select(sa.func.count(), sa.func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.email == email,
            LoginAttempt.succeeded.is_(False),
            LoginAttempt.reason == "bad-credentials",
            LoginAttempt.attempted_at > since,
        )
    ).one()
    count, last_failure = failures
    if count < cfg["LOGIN_MAX_FAILURES"] or last_failure is None:
        return 0
    remaining = (last_failure + timedelta(seconds=cfg["LOGIN_LOCKOUT_SECONDS"]) - now).total_seconds()
    return max(0, int(remaining))


def enforce_rate_limit() -> None:
    """Answer 429 when this address has made too many sign-in attempts in the last minute."""
    if request.endpoint != "security.login" or request.method != "POST":
        return
    since = utcnow() - timedelta(minutes=1)
    recent = db.session.scalar(
        sa.select(sa.func.count()).where(
            LoginAttempt.remote_addr == request.remote_addr, LoginAttempt.attempted_at > since
        )
    )
    if recent is not None and recent >= current_app.config["LOGIN_RATE_LIMIT_PER_MINUTE"]:
        abort(429, description="Too many sign-in attempts from your address. Wait a minute and try again.")


class ProtectedLoginForm(LoginForm):
    """Flask-Security's login form, refusing locked accounts and recording each attempt."""

    def validate(self, **kwargs: Any) -> bool:
        email = (self.email.data or "").strip() if hasattr(self, "email") else ""
        if email:
            seconds = locked_for_seconds(email)
            if seconds:
                record_attempt(email, False, "locked")
                self.form_errors.append(LOCKED_MESSAGE.format(minutes=max(1, (seconds + 59) // 60)))
                return False
        ok = super().validate(**kwargs)
        if email:
            if ok:
                record_attempt(email, True, "ok")
            elif self.password.data:
                record_attempt(email, False, "bad-credentials")
        return ok
