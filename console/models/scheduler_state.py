"""Rows the scheduler processes coordinate through: the leader lease and heartbeats."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from console.extensions import db
from console.models.timeutil import utcnow


class SchedulerLease(db.Model):  # type: ignore[name-defined,misc]
    """A named lease; the process whose ``holder`` is current until ``expires_at`` leads."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(255))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class SchedulerHeartbeat(db.Model):  # type: ignore[name-defined,misc]
    """The latest sign of life of each scheduler process."""

    __tablename__ = "scheduler_heartbeat"

    instance_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    hostname: Mapped[str] = mapped_column(sa.String(255))
    pid: Mapped[int]
    is_leader: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
