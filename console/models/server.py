"""Airflow deployments the console talks to."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from console.extensions import db
from console.models.timeutil import utcnow


def configured(key: str) -> Callable[[], float]:
    """A column default read from the app's configuration when a server is created, so the
    admin form's initial values and a server registered from the CLI agree with it."""

    def default() -> float:
        return float(current_app.config[key])

    return default


class AirflowServer(db.Model):  # type: ignore[name-defined,misc]
    """One Airflow 3 API server.

    The credential (a password, or a static token when ``auth_kind`` is
    ``"token"``) is stored encrypted in ``secret_ciphertext`` and is left out
    of the audit history; ``secret_changed_at`` is versioned instead, so the
    history says *when* it changed without ever holding it.
    """

    __tablename__ = "airflow_server"
    __versioned__ = {"exclude": ["secret_ciphertext"]}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    base_url: Mapped[str] = mapped_column(sa.String(500))
    auth_kind: Mapped[str] = mapped_column(sa.String(16), default="password")
    username: Mapped[str | None] = mapped_column(sa.String(255))
    secret_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    secret_changed_at: Mapped[datetime | None]
    verify_tls: Mapped[bool] = mapped_column(default=True)
    connect_timeout: Mapped[float] = mapped_column(default=configured("AIRFLOW_DEFAULT_CONNECT_TIMEOUT"))
    read_timeout: Mapped[float] = mapped_column(default=configured("AIRFLOW_DEFAULT_READ_TIMEOUT"))
    max_concurrent_triggers: Mapped[int] = mapped_column(default=1)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __str__(self) -> str:
        return self.name
