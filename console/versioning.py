"""SQLAlchemy-Continuum wiring and the acting user recorded on every transaction.

``make_versioned`` runs when this module is imported, which ``console.models``
does before it defines any model. Each audit transaction records the signed-in
user's id for web requests, and an ``actor`` label for everything else: a
named system actor such as ``system:cli`` or ``system:scheduler``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from flask import has_request_context, request
from sqlalchemy_continuum import make_versioned
from sqlalchemy_continuum.plugins.base import Plugin

_system_actor: ContextVar[str | None] = ContextVar("console_system_actor", default=None)


@contextlib.contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Record ``actor`` (e.g. ``"system:cli"``) on transactions made inside the block."""
    token = _system_actor.set(actor)
    try:
        yield
    finally:
        _system_actor.reset(token)


def current_actor() -> tuple[int | None, str]:
    """The (user id, label) pair to record for the transaction being written."""
    system = _system_actor.get()
    if has_request_context():
        from flask_login import current_user

        if getattr(current_user, "is_authenticated", False):
            return current_user.id, str(current_user.email)
    return None, system or "system:unknown"


class ActorPlugin(Plugin):
    """Fills ``transaction.user_id``, ``actor`` and ``remote_addr``."""

    def transaction_args(self, uow: Any, session: Any) -> dict[str, Any]:
        user_id, actor = current_actor()
        remote_addr = request.remote_addr if has_request_context() else None
        return {"user_id": user_id, "actor": actor, "remote_addr": remote_addr}


make_versioned(user_cls="User", plugins=[ActorPlugin()])
