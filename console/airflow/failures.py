"""How a failed request to Airflow is put into words.

Contract: pure functions, no I/O.  Each turns one kind of failure -- arguments
the official client refused, a connection-level error, an HTTP error answer --
into the short reason an :class:`~console.airflow.errors.AirflowError` carries.
No reason ever echoes a submitted value (it may be a password) or a raw body;
the session scrubs secrets from it and names the server.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any

from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from console.airflow.errors import (
    AirflowAuthError,
    AirflowBadRequest,
    AirflowConflict,
    AirflowError,
    AirflowNotFound,
    AirflowUnavailable,
    AirflowUnexpectedPayload,
)

MAX_REASON = 300


def shorten(text: str, limit: int = MAX_REASON) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def readable_detail(body: bytes | str | None) -> str | None:
    """Airflow's error ``detail`` as one short readable sentence, or ``None``.

    ``detail`` is a string (``"Dag with dag_id: 'x' not found"``; for invalid
    params a jsonschema report whose first paragraph is kept), a list of
    FastAPI validation errors (rendered ``field: message``, never echoing the
    ``input`` -- which may hold a password), or a dict (``reason``).  A body
    that is not JSON, or is nested too deeply to decode, has no detail.
    """
    if not body:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, str):
        return shorten(detail.split("\n\n", 1)[0]) or None
    if isinstance(detail, list):
        parts = []
        for item in detail[:5]:
            if not isinstance(item, dict):
                continue
            loc = [str(x) for x in item.get("loc") or [] if x not in ("body", "query", "path")]
            msg = str(item.get("msg") or "invalid")
            parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
        return shorten("; ".join(parts)) or None
    if isinstance(detail, dict):
        for key in ("reason", "message", "detail"):
            if isinstance(detail.get(key), str):
                return shorten(detail[key])
    return None


def bad_arguments_detail(exc: Exception) -> str:
    """What was wrong with the arguments of a request never sent (``field: message``)."""
    errors = getattr(exc, "errors", None)
    detail = ""
    if callable(errors):
        try:
            first = errors()[0]
            loc = ".".join(str(x) for x in first.get("loc", ()))
            detail = f"{loc}: {first.get('msg')}" if loc else str(first.get("msg"))
        except (IndexError, TypeError, AttributeError):
            detail = ""
    elif type(exc) is ValueError:  # raised by our own checks (an empty path segment), not pydantic
        detail = str(exc)
    return detail or type(exc).__name__


def unavailable_reason(exc: BaseException, *, connect_timeout: float, read_timeout: float) -> str:
    """Why a request got no usable answer (``"connection refused"``...)."""
    from console.airflow.official import ApiException  # loaded already: a session exists

    text = str(exc).lower()
    # NewConnectionError subclasses ConnectTimeoutError: test it first.
    if isinstance(exc, NameResolutionError) or "name or service not known" in text:
        return "its host name cannot be resolved"
    if isinstance(exc, NewConnectionError) and "refused" in text:
        return "connection refused"
    if isinstance(exc, ConnectTimeoutError) and (not isinstance(exc, NewConnectionError) or "timed out" in text):
        return f"no connection within {connect_timeout:g} s"
    if isinstance(exc, NewConnectionError):
        return "cannot connect"
    if isinstance(exc, ReadTimeoutError):
        return f"no answer within {read_timeout:g} s"
    if isinstance(exc, SSLError) or (isinstance(exc, ApiException) and exc.status == 0):
        return "TLS error (" + shorten(str(getattr(exc, "reason", exc)).split("\n")[-1], 120) + ")"
    if isinstance(exc, ProtocolError):
        return "the connection was dropped"
    return f"request failed ({type(exc).__name__})"


def http_failure(
    status: int, body: bytes, headers: Any, *, static_token: bool, username: str | None
) -> tuple[type[AirflowError], str]:
    """The error class and the reason for an HTTP error answer.

    ``static_token`` and ``username`` say how the console authenticated, to
    explain a 401 or 403.
    """
    detail = readable_detail(body)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    if status == 401:
        if static_token:
            return AirflowAuthError, "the API token was refused (expired or wrong?)"
        if username:
            return AirflowAuthError, "the login token was refused even after logging in again"
        return AirflowAuthError, "authentication required (no credentials configured)"
    if status == 403:
        who = f"user {username!r}" if username else "this token"
        return AirflowAuthError, f"{who} is not allowed to (403 Forbidden)"
    if status == 404:
        return AirflowNotFound, detail or "not found"
    if status == 409:
        return AirflowConflict, detail or "conflict"
    if status in (400, 422):
        return AirflowBadRequest, detail or phrase
    if status == 503 and detail:  # Airflow says why it cannot now (e.g. its database is locked)
        return AirflowUnavailable, f"Airflow answered 503 {phrase}: {detail}"
    if status == 429 or status >= 500:
        return AirflowUnavailable, f"Airflow answered {status} {phrase}"
    if 300 <= status < 400:
        where = headers.get("Location") if headers is not None else None
        return (
            AirflowUnexpectedPayload,
            f"redirected{' to ' + shorten(where, 100) if where else ''} (is the base URL the Airflow API server's?)",
        )
    return AirflowError, f"Airflow answered {status} {detail or phrase}"
