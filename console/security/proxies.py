"""Trust ``X-Forwarded-*`` from exactly the configured number of reverse proxies.

Without it, behind a proxy every request comes from the proxy's address, so
the per-address sign-in limit would throttle everybody at once; with more
trust than there are proxies, a client could choose its own address.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    """Wrap the WSGI app in ``ProxyFix`` when ``TRUSTED_PROXY_COUNT`` is above 0."""
    count = int(app.config["TRUSTED_PROXY_COUNT"])
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]
