"""Per request: an id (``X-Request-ID``), the timing metric, and one log line.

An incoming ``X-Request-ID`` is kept when it is well-formed (1-64 letters, digits, ``.``,
``_``, ``-``: what proxies and load balancers send), so a request can be followed from
nginx to the console; otherwise a new one is made. The id is sent back on every answer.
The line (logger ``console.request``) carries the request id, user, endpoint, method,
path, status, duration and, on the DAG screens, the Airflow server's id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request
from flask_login import current_user

from console.metrics import observe_request

log = logging.getLogger("console.request")
HEADER = "X-Request-ID"
WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id() -> str:
    """This request's id (the caller's if well-formed, else a new one)."""
    if "request_id" not in g:
        incoming = request.headers.get(HEADER, "")
        g.request_id = incoming if WELL_FORMED.fullmatch(incoming) else uuid.uuid4().hex
    return str(g.request_id)


def _start() -> None:
    g.request_started = time.perf_counter()
    request_id()


def _user() -> str | None:
    try:
        return str(current_user.email) if current_user.is_authenticated else None
    except Exception:  # the user row may be unreadable when the database is down
        return None


def _finish(response: Response) -> Response:
    started = g.get("request_started")
    if started is None:  # a request that failed before the first hook ran
        return response
    seconds = time.perf_counter() - started
    endpoint = request.endpoint or "none"
    observe_request(endpoint, request.method, response.status_code, seconds)
    response.headers[HEADER] = request_id()
    context = {
        "request_id": request_id(),
        "user": _user(),
        "endpoint": endpoint,
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": round(seconds * 1000, 1),
        "remote_addr": request.remote_addr,
    }
    server_id = (request.view_args or {}).get("server_id")
    if server_id is not None:
        context["airflow_server_id"] = server_id
    log.info("%s %s %s %.1f ms", request.method, request.path, response.status_code, seconds * 1000, extra=context)
    return response


def init_app(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, _start)  # first: time everything
    app.after_request(_finish)
