"""Demo data for a first run: an every-minute task on the sandbox's quick example DAG."""

from __future__ import annotations

import sqlalchemy as sa

from console.extensions import db
from console.models import AirflowServer, Task
from console.services import tasks

DEMO_SERVER = "sandbox"
DEMO_DAG = "example_quick"
DEMO_TASK = "Demo: example_quick every minute"


def seed_demo_task() -> str | None:
    """Create the enabled every-minute demo task on the server named "sandbox".

    Returns what happened, for the CLI to print; the caller commits. Nothing
    is created when the sandbox is not registered (the message says how to
    register it) or when the task exists already.
    """
    server = db.session.scalar(sa.select(AirflowServer).where(AirflowServer.name == DEMO_SERVER))
    if server is None:
        return (
            f"No Airflow server named {DEMO_SERVER!r} is registered, so no demo task was created: run "
            "`python manage.py airflow-sandbox start --register`, then `python manage.py seed-demo` again."
        )
    if db.session.scalar(sa.select(Task.id).where(Task.name == DEMO_TASK)) is not None:
        return None
    tasks.create_task(
        {
            "name": DEMO_TASK,
            "description": "Created by `manage.py seed-demo`: triggers example_quick at the start of every minute.",
            "server_id": server.id,
            "dag_id": DEMO_DAG,
            "cron": "* * * * *",
            "timezone": "UTC",
            "enabled": True,
            "misfire_policy": "skip",
        },
        check_dag=False,
    )
    return f"Created the demo task {DEMO_TASK!r}: it triggers {DEMO_DAG} on {DEMO_SERVER!r} every minute."
