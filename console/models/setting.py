"""Console settings an admin changed: one row per setting name (``console.services.settings``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from console.extensions import db
from console.models.timeutil import utcnow


class Setting(db.Model):  # type: ignore[name-defined,misc]
    """The value an admin gave the setting ``name``, as JSON text (NULL: the default).

    A secret setting's value is stored encrypted in ``secret_ciphertext`` and left out of the
    audit history, like a server's credential; ``secret_changed_at`` is versioned instead, so
    the history says *when* it changed without ever holding it. ``revision`` grows by one with
    every change: the sum over all rows is the settings' generation, which every process
    compares to decide whether to reload (it is not versioned: it says nothing to a person).
    """

    __tablename__ = "setting"
    __versioned__ = {"exclude": ["secret_ciphertext", "revision"]}

    name: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    value_json: Mapped[str | None] = mapped_column(sa.Text)
    secret_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    secret_changed_at: Mapped[datetime | None]
    revision: Mapped[int] = mapped_column(default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __str__(self) -> str:
        return self.name
