"""Password guessing limits, kept in the ``login_attempt`` table so every worker sees them.

Two limits apply to every password check (sign-in, ``/verify`` and the
current password on ``/change``):

* **Per address**: more than ``LOGIN_RATE_LIMIT_PER_MINUTE`` attempts a minute
  from one client address are answered 429.
* **Per account, a growing delay**: after ``LOGIN_MAX_FAILURES`` failed
  attempts within ``LOGIN_FAILURE_WINDOW_SECONDS`` (and none succeeded since),
  the next attempt must wait ``LOGIN_DELAY_BASE_SECONDS``, doubling with each
  further failure up to ``LOGIN_DELAY_MAX_SECONDS``. An attempt made while the
  delay runs is refused without checking the password and does not lengthen it.

So that a stranger cannot keep a person out, the per-account delay seen from
an address the account signed in from within ``LOGIN_KNOWN_ADDRESS_DAYS``
counts only the failures made from that address. A stranger elsewhere slows
down their own guesses, not the owner at their usual desk. The client address
is ``request.remote_addr``: set ``TRUSTED_PROXY_COUNT`` behind a proxy.

The limits are console settings (``login_*``, ``console.services.settings``): an admin's change
applies from the next request on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from blinker import Namespace
from flask import abort, current_app, request

from console.extensions import db
from console.metrics import SIGN_IN_FAILURES
from console.models import LoginAttempt
from console.models.timeutil import utcnow

SUCCEEDED = "ok"
BAD_CREDENTIALS = "bad-credentials"
THROTTLED = "throttled"
PASSWORD_ENDPOINTS = frozenset({"security.login", "security.verify", "security.change_password"})
WAIT_MESSAGE = "Too many failed attempts for this account. Wait {wait} and try again."
ADDRESS_LIMIT_MESSAGE = "Too many attempts from your address. Wait a minute and try again."
#: Sent with ``email``, ``succeeded`` and ``reason`` for every password check, before it is
#: committed; the audit trail (``console.services.audit_auth``) records it in the same transaction.
password_checked = Namespace().signal("password-checked")


def normalise_email(email: str) -> str:
    return email.strip().lower()[:255]


def record_attempt(email: str, succeeded: bool, reason: str) -> None:
    """Store one password check, in its own small transaction."""
    email = normalise_email(email)
    db.session.add(LoginAttempt(email=email, remote_addr=request.remote_addr, succeeded=succeeded, reason=reason))
    password_checked.send(current_app._get_current_object(), email=email, succeeded=succeeded, reason=reason)  # type: ignore[attr-defined]
    db.session.commit()
    if not succeeded:
        SIGN_IN_FAILURES.labels(reason).inc()


def delay_after(failures: int, config: Mapping[str, Any]) -> int:
    """Seconds the next attempt must wait after ``failures`` failures in a row."""
    extra = failures - int(config["LOGIN_MAX_FAILURES"])
    if extra < 0:
        return 0
    base, cap = int(config["LOGIN_DELAY_BASE_SECONDS"]), int(config["LOGIN_DELAY_MAX_SECONDS"])
    return min(cap, base * 2 ** min(extra, 32))


def limits() -> dict[str, int]:
    """The current limits (console settings, ``console.services.settings``), under their configuration keys."""
    names = ("max_failures", "failure_window_seconds", "delay_base_seconds", "delay_max_seconds", "known_address_days")
    return {f"LOGIN_{name.upper()}": int(setting(f"login_{name}")) for name in names}


def setting(name: str) -> Any:
    """A console setting's current value (the store ``console.services.settings`` binds to the app)."""
    return current_app.extensions["settings"].get(name)


def _last_success(email: str, remote_addr: str | None = None, *, since: datetime | None = None) -> datetime | None:
    query = sa.select(sa.func.max(LoginAttempt.attempted_at)).where(
        LoginAttempt.email == email, LoginAttempt.succeeded.is_(True)
    )
    if remote_addr is not None:
        query = query.where(LoginAttempt.remote_addr == remote_addr)
    if since is not None:
        query = query.where(LoginAttempt.attempted_at > since)
    return db.session.scalar(query)


def wait_seconds(email: str, now: datetime | None = None) -> int:
    """Seconds before ``email`` may try a password again from this request's address (0: now)."""
    cfg = limits()
    now = now or utcnow()
    email = normalise_email(email)
    address = request.remote_addr
    known_since = now - timedelta(days=int(cfg["LOGIN_KNOWN_ADDRESS_DAYS"]))
    known = address is not None and _last_success(email, address, since=known_since) is not None
    since = now - timedelta(seconds=int(cfg["LOGIN_FAILURE_WINDOW_SECONDS"]))
    last_success = _last_success(email)
    if last_success is not None and last_success > since:
        since = last_success
    query = sa.select(sa.func.count(), sa.func.max(LoginAttempt.attempted_at)).where(
        LoginAttempt.email == email,
        LoginAttempt.reason == BAD_CREDENTIALS,
        LoginAttempt.attempted_at > since,
    )
    if known:
        query = query.where(LoginAttempt.remote_addr == address)
    failures, last_failure = db.session.execute(query).one()
    delay = delay_after(failures, cfg)
    if not delay or last_failure is None:
        return 0
    return max(0, int((last_failure + timedelta(seconds=delay) - now).total_seconds() + 0.999))


def wait_message(seconds: int) -> str:
    wait = f"{seconds} seconds" if seconds < 120 else f"{(seconds + 59) // 60} minutes"
    return WAIT_MESSAGE.format(wait=wait)


def enforce_address_limit() -> None:
    """Answer 429 when this address has tried too many passwords in the last minute."""
    if request.method != "POST" or request.endpoint not in PASSWORD_ENDPOINTS:
        return
    since = utcnow() - timedelta(minutes=1)
    recent = db.session.scalar(
        sa.select(sa.func.count()).where(
            LoginAttempt.remote_addr == request.remote_addr, LoginAttempt.attempted_at > since
        )
    )
    if recent is not None and recent >= int(setting("login_rate_limit_per_minute")):
        abort(429, description=ADDRESS_LIMIT_MESSAGE)
