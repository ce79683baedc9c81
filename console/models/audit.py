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


#: What kind of thing an audit event records (filterable on the audit page).
AUDIT_CATEGORIES: dict[str, str] = {
    "airflow": "A change made in Airflow through the console (trigger, pause, clear, mark, variables...)",
    "auth": "Sign-in, failed sign-in, lockout, sign-out, password change",
    "console": "A change to the console's own records (tasks, servers, settings, users)",
    "system": "Something the console did by itself (audit retention purge, ...)",
}
#: How an audited action ended.
OUTCOMES = ("success", "failed", "refused")


class AuditEvent(db.Model):  # type: ignore[name-defined,misc]
    """One entry of the audit trail: who did what to which object, when, from where, and how it ended.

    Actions in Airflow (pause, trigger, clear, mark, variable and pool changes) have no console
    row to version, so this row is their record, with ``before``/``after`` as JSON where the
    action changes a value. Console row changes are versioned by Continuum and also indexed here
    (``transaction_id`` names the Continuum transaction) so that the audit page reads one table.
    Sensitive values inside ``before``/``after`` are stored encrypted, never in clear.
    Rows are only ever added: nothing edits or deletes them except the audited retention purge.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        sa.Index("ix_audit_event_actor_id", "actor", "id"),
        sa.Index("ix_audit_event_action_id", "action", "id"),
        sa.Index("ix_audit_event_object", "object_type", "object_id", "id"),
        sa.Index("ix_audit_event_server_id", "server_name", "id"),
        sa.Index("ix_audit_event_outcome_id", "outcome", "id"),
        sa.Index("ix_audit_event_category_id", "category", "id"),
        sa.Index("ix_audit_event_user_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(sa.String(255))
    remote_addr: Mapped[str | None] = mapped_column(sa.String(50))
    category: Mapped[str] = mapped_column(sa.String(16), default="airflow")
    action: Mapped[str] = mapped_column(sa.String(40))
    object_type: Mapped[str | None] = mapped_column(sa.String(40))
    object_id: Mapped[str | None] = mapped_column(sa.String(250))
    server_name: Mapped[str | None] = mapped_column(sa.String(80))
    dag_id: Mapped[str | None] = mapped_column(sa.String(250), index=True)
    run_id: Mapped[str | None] = mapped_column(sa.String(250))
    task_id: Mapped[str | None] = mapped_column(sa.String(250))
    outcome: Mapped[str] = mapped_column(sa.String(16), default="success")
    error: Mapped[str | None] = mapped_column(sa.Text)
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    before: Mapped[str | None] = mapped_column(sa.Text)
    after: Mapped[str | None] = mapped_column(sa.Text)
    transaction_id: Mapped[int | None] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), index=True)
    reverts_id: Mapped[int | None] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), sa.ForeignKey("audit_event.id")
    )
    user = relationship("User")

    @property
    def succeeded(self) -> bool:
        return self.outcome == "success"
