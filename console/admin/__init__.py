"""Flask-Admin setup: the screens, in menu order."""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from console.extensions import db


def init_admin(app: Flask) -> Admin:
    """Create this app's ``Admin`` and its views (views are per app, never shared)."""
    from console.admin.audit import AuditView
    from console.admin.dags import register_converters
    from console.admin.home import HomeView
    from console.admin.servers import ServersView
    from console.admin.settings import SettingsView
    from console.admin.users import UsersView
    from console.models import AirflowServer, User
    from console.security.csp import csp_nonce

    register_converters(app)
    admin = Admin(
        app,
        name="Airflow Console",
        url="/admin",
        index_view=HomeView(name="Home", url="/admin"),
        theme=Bootstrap4Theme(base_template="admin/console_base.html", fluid=True),
        csp_nonce_generator=csp_nonce,
    )
    for view in _screens():
        admin.add_view(view)
    admin.add_view(ServersView(AirflowServer, db, name="Airflow servers", endpoint="servers", category="Admin"))
    admin.add_view(UsersView(User, db, name="Users", endpoint="users", category="Admin"))
    admin.add_view(SettingsView(name="Settings", endpoint="settings", url="/admin/settings", category="Admin"))
    admin.add_view(AuditView(name="Audit log", endpoint="audit", url="/admin/audit"))
    app.extensions["console_admin"] = admin
    return admin


def _screens() -> list:
    """The Airflow, task, job and Airflow-object screens, in menu order."""
    from console.admin.airflow_objects import AirflowConfigView, ConnectionsView, PoolsView, VariablesView
    from console.admin.dags import DagsView
    from console.admin.import_errors import ImportErrorsView
    from console.admin.jobs import JobsView
    from console.admin.runs import RunsView
    from console.admin.task_instances import TaskInstancesView
    from console.admin.tasks import TasksView
    from console.models import Task

    return [
        DagsView(name="DAGs", endpoint="dags", url="/admin/dags"),
        RunsView(name="Runs", endpoint="runs", url="/admin/runs"),
        TaskInstancesView(name="Task instances", endpoint="task_instances", url="/admin/task-instances"),
        ImportErrorsView(name="Import errors", endpoint="import_errors", url="/admin/import-errors"),
        TasksView(Task, db, name="Tasks", endpoint="tasks"),
        JobsView(name="Jobs", endpoint="jobs", url="/admin/jobs"),
        VariablesView(name="Variables", endpoint="variables", url="/admin/variables", category="Airflow"),
        PoolsView(name="Pools", endpoint="pools", url="/admin/pools", category="Airflow"),
        ConnectionsView(name="Connections", endpoint="connections", url="/admin/connections", category="Airflow"),
        AirflowConfigView(
            name="Configuration", endpoint="airflow_config", url="/admin/airflow-config", category="Airflow"
        ),
    ]
