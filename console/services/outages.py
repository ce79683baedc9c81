"""What the console does when a service it shares with other processes is down.

* **The database** (SQLite locked past its busy timeout, PostgreSQL unreachable): every request that
  needs it is answered ``503`` with a message and a ``Retry-After`` header instead of a 500, and the
  next request tries again (the pool reconnects), so the console recovers by itself.
* **A value the database refuses** (an id past 32 bits, which SQLite takes and PostgreSQL does not):
  400 with a message, never a 500.
* **Redis** (``CONSOLE_REDIS_URL``): the read cache already treats it as a miss (each process asks
  Airflow itself); admins see a banner saying the shared cache is down.  Sign-in never needs Redis.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g, jsonify, render_template, request
from flask_login import current_user
from redis.exceptions import RedisError

from console.extensions import db
from console.security import policy

log = logging.getLogger(__name__)

DATABASE_DOWN_TITLE = "Database unavailable"
DATABASE_DOWN_MESSAGE = "The console database is not answering right now. Nothing was changed; try again in a moment."
RETRY_AFTER_SECONDS = 5
VALUE_REFUSED_MESSAGE = "A value in the request is out of range (a number too large, for instance)."
REDIS_DOWN_MESSAGE = (
    "The shared cache (Redis) is not answering: each web worker asks Airflow itself until it is back. "
    "Pages are slower; nothing is lost."
)
#: How long one process trusts its last look at Redis (a ping per request would double the calls).
REDIS_CHECK_SECONDS = 5.0


@dataclass
class RedisHealth:
    checked_at: float = float("-inf")
    down: bool = False


def database_unavailable(error: Exception) -> tuple[Any, int, dict[str, str]]:
    """The answer to a request whose database call failed to connect or timed out on a lock."""
    log.warning("database unavailable for %s %s: %s", request.method, request.path, str(error).splitlines()[0])
    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        db.session.close()
    g.database_down = True  # the page must not look the user up
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.accept_mimetypes.best == "application/json" or request.path.endswith(".json"):
        return jsonify(error=DATABASE_DOWN_MESSAGE), 503, headers
    page = render_template("error.html", code=503, title=DATABASE_DOWN_TITLE, message=DATABASE_DOWN_MESSAGE)
    return page, 503, headers


def value_refused(error: Exception) -> tuple[Any, int]:
    """The answer to a request whose value (e.g. ``/jobs/2147483648``) the database cannot store or compare."""
    log.info("database refused a value for %s %s: %s", request.method, request.path, str(error).splitlines()[0])
    db.session.rollback()
    if request.accept_mimetypes.best == "application/json" or request.path.endswith(".json"):
        return jsonify(error=VALUE_REFUSED_MESSAGE), 400
    return render_template("error.html", code=400, title="Bad request", message=VALUE_REFUSED_MESSAGE), 400


def redis_is_down(app: Flask) -> bool:
    """Whether the configured Redis fails to answer a ping (False when no Redis is configured)."""
    redis = app.extensions["read_cache"].redis
    if redis is None:
        return False
    health: RedisHealth = app.extensions.setdefault("redis_health", RedisHealth())
    now = time.monotonic()
    if now - health.checked_at >= REDIS_CHECK_SECONDS:
        try:
            redis.ping()
            health.down = False
        except RedisError as exc:
            if not health.down:
                log.warning("Redis is not answering (%s): no shared cache until it is back", exc)
            health.down = True
        health.checked_at = now
    return health.down


def shared_cache_banner() -> dict[str, str | None]:
    """Template context: the Redis banner, for admins only."""
    if g.get("database_down"):
        return {"shared_cache_problem": None}
    admin = current_user.is_authenticated and policy.user_rank(current_user) >= policy.RANK[policy.ADMIN]
    if not admin:
        return {"shared_cache_problem": None}
    return {"shared_cache_problem": REDIS_DOWN_MESSAGE if redis_is_down(current_app) else None}


def init_app(app: Flask) -> None:
    app.register_error_handler(sa.exc.OperationalError, database_unavailable)
    app.register_error_handler(sa.exc.DataError, value_refused)
    app.context_processor(shared_cache_banner)
