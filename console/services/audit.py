"""The audit record of actions taken in Airflow through the console."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import has_request_context, request

from console.extensions import db
from console.models import AirflowAction
from console.versioning import current_actor

log = logging.getLogger("console.audit")


def record_airflow_action(
    action: str,
    server_name: str,
    *,
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    detail: dict[str, Any] | None = None,
    error: str | None = None,
) -> AirflowAction:
    """Add (not commit) one ``AirflowAction`` row for the acting user or system actor.

    The caller commits, so the record belongs to the same unit of work as any
    console change made alongside it.
    """
    user_id, actor = current_actor()
    row = AirflowAction(
        user_id=user_id,
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
