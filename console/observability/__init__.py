"""Observability: ``/metrics`` for Prometheus, one log line per request, JSON logs.

``init_app`` wires them into the app: the request hooks (request id, timing, the
access line) and the metrics blueprint. Metric definitions live in :mod:`console.metrics`.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from console.observability import endpoint, logs, requests

    if not app.testing:  # tests read the records through pytest's own capture
        logs.configure(str(app.config["LOG_FORMAT"]), str(app.config["LOG_LEVEL"]))
    requests.init_app(app)
    app.register_blueprint(endpoint.bp)
