"""``/readyz``: anyone learns whether the console is ready; only signed-in users learn why."""

from __future__ import annotations

from flask import Flask

from console.extensions import db
from console.models import SchedulerHeartbeat

HOST, PID = "scheduler-host-7f3a", 48213


def beat(app: Flask) -> None:
    with app.app_context():
        db.session.add(SchedulerHeartbeat(instance_id="i-1", hostname=HOST, pid=PID, is_leader=True))
        db.session.commit()


def test_anonymous_readyz_says_ready_without_host_or_pid(app: Flask, client) -> None:
    beat(app)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ready",
        "checks": {"database": {"ok": True}, "scheduler": {"ok": True}},
    }
    assert HOST not in response.get_data(as_text=True) and str(PID) not in response.get_data(as_text=True)


def test_signed_in_readyz_gives_the_reasons(app: Flask, login_as) -> None:
    beat(app)
    response = login_as("viewer").get("/readyz")
    assert response.status_code == 200
    checks = response.get_json()["checks"]
    assert checks["database"] == {"ok": True, "detail": "reachable"}
    assert f"from {HOST} (pid {PID}), leader" in checks["scheduler"]["detail"]


def test_anonymous_readyz_hides_why_the_database_is_unreachable() -> None:
    from console import create_app
    from tests.conftest import base_config

    broken = create_app(base_config("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "not ready",
        "checks": {"database": {"ok": False}, "scheduler": {"ok": False}},
    }
