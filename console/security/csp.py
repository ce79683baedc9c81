"""The Content-Security-Policy: scripts and styles only from our origin or with this response's nonce.

Each request gets a fresh nonce (:func:`csp_nonce`, also a Jinja global and
Flask-Admin's ``csp_nonce_generator``); the header names it, so an injected
``<script>`` without it, an inline event handler or a ``javascript:`` URL does
not run, and neither does a ``style=`` attribute or a ``<style>`` without it. The templates
therefore carry no inline handlers or styles: behaviour is bound from ``static/js`` through
``data-*`` attributes, and looks come from the stylesheets in ``static``.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g

# Styles follow the same rule as scripts: our stylesheets and ``<style nonce>`` only, so no
# ``style=`` attribute in markup applies. Styles that scripts set through the DOM
# (``element.style``: select2, Bootstrap, Chart.js) are not governed by the policy.
_POLICY = (
    "default-src 'self'",
    "script-src 'self' 'nonce-{nonce}'",
    "style-src 'self' 'nonce-{nonce}'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)


def csp_nonce() -> str:
    """This request's script and style nonce (made on first use)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


def content_security_policy(nonce: str) -> str:
    """The policy header value for a response whose inline scripts and styles carry ``nonce``."""
    return "; ".join(_POLICY).format(nonce=nonce)


def set_policy_header(response: Response) -> Response:
    """Send the policy with this request's nonce (an answer that set its own keeps it)."""
    response.headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce()))
    return response


def init_app(app: Flask) -> None:
    """Send the policy on every answer and give templates ``csp_nonce()``."""
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.after_request(set_policy_header)
