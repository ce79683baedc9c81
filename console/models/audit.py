"""The audit transaction every versioned change belongs to, and sign-in attempts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy_continuum import versioning_manager
from sqlalchemy_continuum.transaction import TransactionBase

from console.extensions import db
from console.models.timeutil import utcnow


class Transaction(db.Model, TransactionBase):  # type: ignore[name-defined,misc]
    """One unit of work: who (user or system actor), when and from where.

    Defined here, under the name Continuum looks for, so that it carries the
    ``actor`` column beside Continuum's own ``user_id`` and ``remote_addr``.
    """

    __tablename__ = "transaction"
    __versioning_manager__ = versioning_manager

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    issued_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    actor: Mapped[str] = mapped_column(sa.String(255), default="system:unknown")
    remote_addr: Mapped[str | None] = mapped_column(sa.String(50))
    user = relationship("User")


class LoginAttempt(db.Model):  # type: ignore[name-defined,misc]
    """Every sign-in attempt, kept for lockout decisions and for the record."""

    __tablename__ = "login_attempt"
    __table_args__ = (sa.Index("ix_login_attempt_email_at", "email", "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(255))
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    succeeded: Mapped[bool]
    reason: Mapped[str] = mapped_column(sa.String(64))
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AirflowAction(db.Model):  # type: ignore[name-defined,misc]
    """A change a person (or the scheduler) made in Airflow through the console.

    Airflow's own state is not a console model, so these rows are the audit
    record for pause, trigger, clear and mark: who, when, where and the outcome.
    """

    __tablename__ = "airflow_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    performed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    actor: Mapped[str] = mapped_column(sa.String(255))
    remote_addr: Mapped[str | None] = mapped_column(sa.String(50))
    action: Mapped[str] = mapped_column(sa.String(32))
    server_name: Mapped[str] = mapped_column(sa.String(80))
    dag_id: Mapped[str | None] = mapped_column(sa.String(250), index=True)
    run_id: Mapped[str | None] = mapped_column(sa.String(250))
    task_id: Mapped[str | None] = mapped_column(sa.String(250))
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    succeeded: Mapped[bool] = mapped_column(default=True)
    error: Mapped[str | None] = mapped_column(sa.Text)
    user = relationship("User")
