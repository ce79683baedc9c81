"""Process-wide cache of Airflow API tokens (JWTs).

Airflow 3 hands out a JWT on ``POST {base}/auth/token``; it is valid for 24 h
by default.  Every :class:`~console.airflow.client.AirflowClient` built for the
same ``(base_url, username)`` shares one token, so building a client per
request (as the Flask app does, from a DB row) costs no extra login.

A token is reused until ``margin`` seconds before its ``exp`` claim (read from
the JWT payload without verifying it: the console is not the audience, Airflow
is).  A token without a readable ``exp`` is kept ``default_ttl`` seconds.

Entries also remember a keyed fingerprint of the password they were fetched
with, so changing a server's password in the console stops the old token from
being reused.  The fingerprint key is random per process; nothing here is
ever logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

TokenKey = tuple[str, str]

_FINGERPRINT_KEY = os.urandom(32)


def fingerprint(secret: str | None) -> str:
    """A keyed, per-process digest of ``secret``: equal secrets match, nothing
    about the secret can be read back from it."""
    return hmac.new(_FINGERPRINT_KEY, (secret or "").encode(), hashlib.sha256).hexdigest()


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (epoch seconds), or ``None`` if it has none
    or the token is not a readable JWT.  The signature is NOT verified."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1]
    payload += "=" * (-len(payload) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    return float(exp)


@dataclass(slots=True)
class _Entry:
    token: str
    refresh_at: float
    fingerprint: str


class TokenCache:
    """Thread-safe map ``(base_url, username) -> token``.

    ``lock_for(key)`` gives a per-key lock the client holds while fetching, so
    ten threads that all miss fetch one token, not ten.
    """

    def __init__(
        self,
        *,
        margin: float = 60.0,
        default_ttl: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.margin = margin
        self.default_ttl = default_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[TokenKey, _Entry] = {}
        self._fetch_locks: dict[TokenKey, threading.Lock] = {}

    def get(self, key: TokenKey, secret_fingerprint: str) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.fingerprint != secret_fingerprint or self._clock() >= entry.refresh_at:
                del self._entries[key]
                return None
            return entry.token

    def put(self, key: TokenKey, token: str, secret_fingerprint: str) -> None:
        now = self._clock()
        exp = jwt_expiry(token)
        refresh_at = now + self.default_ttl if exp is None else exp - self.margin
        with self._lock:
            if refresh_at <= now:
                # Already (nearly) expired: usable for this one call, never cached.
                self._entries.pop(key, None)
                return
            self._entries[key] = _Entry(token, refresh_at, secret_fingerprint)

    def invalidate(self, key: TokenKey, token: str | None = None) -> None:
        """Drop the cached token; if ``token`` is given, only if it is still
        the cached one (another thread may already have refreshed it)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (token is None or entry.token == token):
                del self._entries[key]

    def lock_for(self, key: TokenKey) -> threading.Lock:
        with self._lock:
            return self._fetch_locks.setdefault(key, threading.Lock())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


#: The cache every client uses unless given another one.
TOKEN_CACHE = TokenCache()
