"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work)."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from console.services import health

bp = Blueprint("health", __name__)


@bp.get("/healthz", endpoint="healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")


@bp.get("/readyz", endpoint="readyz")
def readyz() -> ResponseReturnValue:
    """503 when the database is unreachable; the scheduler's heartbeat is reported, not required.
    Only signed-in users see the reasons."""
    body, ready = health.readiness(with_reasons=current_user.is_authenticated)
    return jsonify(body), (200 if ready else 503)


@bp.get("/", endpoint="index")
def index() -> ResponseReturnValue:
    return redirect(url_for("admin.index"))
