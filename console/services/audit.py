"""The audit trail: one :class:`~console.models.AuditEvent` row per audited action.

Every trigger, pause, unpause, clear and mark -- from a screen, a bulk action,
"Run now" or the scheduler -- writes exactly one event through
:func:`record_airflow_action`; everything else that is not a versioned row change
(sign-in, variable and pool changes in Airflow, reverts, purges) goes through
:func:`record_event`. Each names the actor the caller passes: the signed-in
person's email, or a system actor (:data:`SCHEDULER_ACTOR`, :data:`CLI_ACTOR`).

Values in ``before``/``after`` whose key is listed in ``secret_keys`` are stored
encrypted (``{"$secret": <ciphertext>}``): :func:`masked` renders them as
:data:`MASK`, and only :func:`revealed` (for a revert) decrypts them.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request

from console.extensions import db
from console.models import AuditEvent, User
from console.security.secrets import decrypt, encrypt

log = logging.getLogger("console.audit")

SYSTEM_PREFIX = "system:"
#: The actor of everything the scheduler process does.
SCHEDULER_ACTOR = "system:scheduler"
#: The actor of what ``manage.py`` commands do.
CLI_ACTOR = "system:cli"
#: How a stored secret value is shown, everywhere.
MASK = "••••••••"
_SECRET = "$secret"


def record_event(
    action: str,
    *,
    actor: str,
    category: str = "console",
    object_type: str | None = None,
    object_id: str | None = None,
    server_name: str | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    secret_keys: Iterable[str] = (),
    detail: dict[str, Any] | None = None,
    outcome: str | None = None,
    error: str | None = None,
    transaction_id: int | None = None,
    reverts_id: int | None = None,
) -> AuditEvent:
    """Add (not commit) one audit event; the caller commits it with the change it records.

    ``error`` set without ``outcome`` means ``"failed"``; pass ``outcome="refused"`` for a
    permission refusal. Values of ``before``/``after`` under ``secret_keys`` are encrypted.
    """
    secrets = set(secret_keys)
    row = AuditEvent(
        user_id=_user_id(actor),
        actor=actor,
        remote_addr=request.remote_addr if has_request_context() else None,
        category=category,
        action=action,
        object_type=object_type,
        object_id=object_id,
        server_name=server_name,
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        outcome=outcome or ("success" if error is None else "failed"),
        error=error,
        detail=json.dumps(detail or {}, sort_keys=True, default=str),
        before=_encode(before, secrets),
        after=_encode(after, secrets),
        transaction_id=transaction_id,
        reverts_id=reverts_id if reverts_id is not None else current_revert(),
    )
    db.session.add(row)
    log.info(
        "%s %s %s=%s server=%s dag=%s %s",
        actor,
        action,
        object_type,
        object_id,
        server_name,
        dag_id,
        row.outcome if error is None else f"{row.outcome}: {error}",
    )
    return row


def _encode(values: dict[str, Any] | None, secrets: set[str]) -> str | None:
    if values is None:
        return None
    stored = {
        key: ({_SECRET: encrypt(str(value))} if key in secrets and value not in (None, "") else value)
        for key, value in values.items()
    }
    return json.dumps(stored, sort_keys=True, default=str)


def masked(stored: str | None) -> dict[str, Any] | None:
    """``before``/``after`` as stored, with every secret value shown as :data:`MASK`."""
    if stored is None:
        return None
    values: dict[str, Any] = json.loads(stored)
    return {k: (MASK if isinstance(v, dict) and _SECRET in v else v) for k, v in values.items()}


def revealed(stored: str | None) -> dict[str, Any] | None:
    """``before``/``after`` with secrets decrypted: for reverting a change, never for display."""
    if stored is None:
        return None
    values: dict[str, Any] = json.loads(stored)
    return {k: (decrypt(v[_SECRET]) if isinstance(v, dict) and _SECRET in v else v) for k, v in values.items()}


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
) -> AuditEvent:
    """Add (not commit) the one audit event of a pause, trigger, clear or mark in Airflow.

    ``error`` set means the action was refused by Airflow or failed. The caller commits,
    so the record belongs to the same unit of work as any console change made alongside it.
    """
    object_type, object_id = (
        ("task_instance", f"{dag_id}/{run_id}/{task_id}")
        if task_id
        else ("dag_run", f"{dag_id}/{run_id}")
        if run_id
        else ("dag", dag_id)
    )
    return record_event(
        action,
        actor=actor,
        category="airflow",
        object_type=object_type,
        object_id=object_id,
        server_name=server_name,
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        detail=detail,
        error=error,
    )


def _user_id(actor: str) -> int | None:
    """The id of the user ``actor`` names; None for a system actor (no query on the scheduler's path)."""
    if actor.startswith(SYSTEM_PREFIX):
        return None
    return db.session.scalar(sa.select(User.id).where(User.email == actor))


_reverting: ContextVar[int | None] = ContextVar("console_reverting", default=None)


@contextlib.contextmanager
def reverting(event_id: int) -> Iterator[None]:
    """Changes made inside the block revert audit event ``event_id``: their events name it in ``reverts_id``."""
    token = _reverting.set(event_id)
    try:
        yield
    finally:
        _reverting.reset(token)


def current_revert() -> int | None:
    """The audit event being reverted by the change now being written, if any."""
    return _reverting.get()
