"""Tasks: cron schedules that trigger a DAG, and the history of each fire."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.extensions import db
from console.models.server import AirflowServer
from console.models.states import FireState
from console.models.timeutil import utcnow

MISFIRE_POLICIES = {
    "skip": "Skip fires missed while the scheduler was down",
    "run_once": "Run the latest missed fire once",
}


class Task(db.Model):  # type: ignore[name-defined,misc]
    """A person's schedule: trigger ``dag_id`` on ``server`` at every ``cron`` fire.

    The alert webhook URL usually carries a token, so it is stored encrypted in
    ``alert_webhook_ciphertext`` (empty: no webhook) and left out of the audit
    history, like a server's credential; ``alert_webhook_changed_at`` is
    versioned instead. ``console.services.webhooks`` reads and writes it.
    """

    __tablename__ = "task"
    __versioned__ = {"exclude": ["alert_webhook_ciphertext"]}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    server_id: Mapped[int] = mapped_column(sa.ForeignKey("airflow_server.id"))
    dag_id: Mapped[str] = mapped_column(sa.String(250))
    conf_json: Mapped[str] = mapped_column(sa.Text, default="{}")
    cron: Mapped[str] = mapped_column(sa.String(120))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    enabled: Mapped[bool] = mapped_column(default=True)
    misfire_policy: Mapped[str] = mapped_column(sa.String(16), default="skip")
    retry_window_seconds: Mapped[int] = mapped_column(default=900)
    retry_backoff_seconds: Mapped[int] = mapped_column(default=15)
    alert_emails: Mapped[str] = mapped_column(sa.Text, default="")
    alert_webhook_ciphertext: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    alert_webhook_changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    server: Mapped[AirflowServer] = relationship()

    def __str__(self) -> str:
        return self.name


class TaskRun(db.Model):  # type: ignore[name-defined,misc]
    """One fire of a task. Unique on (task, scheduled time): a fire is recorded once.

    ``state`` is a :class:`~console.models.states.FireState`.
    """

    __tablename__ = "task_run"
    __table_args__ = (
        sa.UniqueConstraint("task_id", "scheduled_for", name="uq_task_run_task_scheduled"),
        sa.Index("ix_task_run_state_next_attempt", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(sa.ForeignKey("task.id", ondelete="CASCADE"), index=True)
    scheduled_for: Mapped[datetime]
    kind: Mapped[str] = mapped_column(sa.String(16), default="scheduled")
    state: Mapped[str] = mapped_column(sa.String(16), default=FireState.PENDING)
    dag_run_id: Mapped[str] = mapped_column(sa.String(250))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    triggered_at: Mapped[datetime | None]
    dag_run_state: Mapped[str | None] = mapped_column(sa.String(32))
    finished_at: Mapped[datetime | None]
    duration_seconds: Mapped[float | None]
    error: Mapped[str | None] = mapped_column(sa.Text)
    #: Who asked for this run: the person's email ("Run now") or ``system:scheduler``.
    #: Each attempt to trigger it is audited as an ``AuditEvent`` with the same run id.
    requested_by: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    task: Mapped[Task] = relationship(backref=sa.orm.backref("runs", lazy="dynamic", passive_deletes=True))


class AlertDelivery(db.Model):  # type: ignore[name-defined,misc]
    """One attempt to deliver a failure alert; failures are recorded, never raised."""

    __tablename__ = "alert_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_run_id: Mapped[int] = mapped_column(sa.ForeignKey("task_run.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    target: Mapped[str] = mapped_column(sa.String(500))
    succeeded: Mapped[bool]
    error: Mapped[str | None] = mapped_column(sa.Text)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
