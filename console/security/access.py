"""Enforce the access policy on every request, and set the security headers."""

from __future__ import annotations

import logging

from flask import Flask, Response, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from console.security import csp, policy

log = logging.getLogger(__name__)


def enforce_policy() -> Response | None:
    """Refuse a request whose endpoint the signed-in user's roles do not allow.

    Anonymous users are sent to sign in (JSON callers get 401); signed-in users
    without the role get 403; endpoints the policy does not name are refused.
    """
    endpoint = request.endpoint
    if endpoint is None:  # 404/405: nothing to protect
        return None
    required = policy.required_role(endpoint)
    if required is None:
        log.error("endpoint %s is missing from the access policy; refusing", endpoint)
        abort(403)
    if required == policy.PUBLIC or policy.allows(current_user, endpoint):
        return None
    if policy.address_opens(endpoint, request.remote_addr, current_app.config):
        return None
    if not current_user.is_authenticated:
        if request.accept_mimetypes.best == "application/json" or request.path.endswith(".json"):
            abort(401)
        return redirect(url_for("security.login", next=request.full_path.rstrip("?")))  # type: ignore[return-value]
    abort(403)


def set_security_headers(response: Response) -> Response:
    """Headers every answer carries."""
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _error_page(code: int, title: str, message: str) -> tuple[str, int]:
    return render_template("error.html", code=code, title=title, message=message), code


def init_app(app: Flask) -> None:
    """Register the policy check, the headers, and friendly error pages."""
    app.before_request(enforce_policy)
    app.after_request(set_security_headers)
    csp.init_app(app)
    app.register_error_handler(
        403, lambda e: _error_page(403, "Not allowed", "Your role does not allow this page or action.")
    )
    app.register_error_handler(404, lambda e: _error_page(404, "Not found", "There is nothing at this address."))
    app.register_error_handler(
        400, lambda e: _error_page(400, "Bad request", getattr(e, "description", "The request was not understood."))
    )
    app.register_error_handler(
        429, lambda e: _error_page(429, "Too many attempts", getattr(e, "description", "Please wait and try again."))
    )
    app.register_error_handler(
        500, lambda e: _error_page(500, "Something went wrong", "The error was logged. Please try again.")
    )
