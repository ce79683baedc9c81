""" "Run now" against the real Airflow sandbox: the run is created and audited as the person who pressed it."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.extensions import db
from console.models import AuditEvent, TaskRun
from console.services import tasks
from tests.conftest import Auth, sandbox_api

pytestmark = pytest.mark.integration


def test_run_now_triggers_in_airflow_and_names_the_operator(
    app: Flask, login_as: Auth, sandbox_server: int, airflow_sandbox: Any
) -> None:
    with app.app_context():
        task = tasks.create_task(
            {"name": "run now audit", "server_id": sandbox_server, "dag_id": "example_quick", "cron": "0 5 * * *"},
            check_dag=False,
        )
        db.session.commit()
        task_id = task.id
    login_as("operator")
    response = login_as.post(f"/admin/tasks/run_now/{task_id}")
    assert response.status_code == 302
    with app.app_context():
        run = db.session.scalars(sa.select(TaskRun)).one()
        assert (run.kind, run.state, run.requested_by) == ("manual", "triggered", "operator@example.com")
        audited = [
            (a.actor, a.user.email if a.user else None, a.action, a.server_name, a.run_id, a.succeeded)
            for a in db.session.scalars(sa.select(AuditEvent).where(AuditEvent.category == "airflow"))
        ]
        dag_run_id = run.dag_run_id
    assert audited == [
        ("operator@example.com", "operator@example.com", "trigger", "sandbox", dag_run_id, True),
    ]
    assert sandbox_api(airflow_sandbox).get_dag_run("example_quick", dag_run_id).run_id == dag_run_id
