"""The audit record of actions taken in Airflow through the console.

Every trigger, pause, unpause, clear and mark -- from a screen, a bulk action,
"Run now" or the scheduler -- writes exactly one ``AirflowAction`` row through
:func:`record_airflow_action`, naming the actor the caller passes: the
signed-in person's email, or a system actor (:data:`SCHEDULER_ACTOR`,
:data:`CLI_ACTOR`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request

from console.extensions import db
from console.models import AirflowAction, User

log = logging.getLogger("console.audit")

SYSTEM_PREFIX = "system:"
#: The actor of everything the scheduler process does.
SCHEDULER_ACTOR = "system:scheduler"
#: The actor of what ``manage.py`` commands do.
CLI_ACTOR = "system:cli"


def record_airflow_action(
    action: str,
    server_name: str,
    *,
    actor: str,
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    detail: dict[str, Any] | None = None,
    error: str | None = None,
) -> AirflowAction:
    """Add (not commit) one ``AirflowAction`` row for ``actor``: a person's email or a system actor.

    ``error`` set means the action was refused or failed. The caller commits,
    so the record belongs to the same unit of work as any console change made
    alongside it.
    """
    row = AirflowAction(
        user_id=_user_id(actor),
        actor=actor,
        remote_addr=request.remote_addr if has_request_context() else None,
        action=action,
        server_name=server_name,
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        detail=json.dumps(detail or {}, sort_keys=True, default=str),
        succeeded=error is None,
        error=error,
    )
    db.session.add(row)
    log.info(
        "%s %s server=%s dag=%s run=%s task=%s %s",
        actor,
        action,
        server_name,
        dag_id,
        run_id,
        task_id,
        "ok" if error is None else f"failed: {error}",
    )
    return row


def _user_id(actor: str) -> int | None:
    """The id of the user ``actor`` names; None for a system actor (no query on the scheduler's path)."""
    if actor.startswith(SYSTEM_PREFIX):
        return None
    return db.session.scalar(sa.select(User.id).where(User.email == actor))
