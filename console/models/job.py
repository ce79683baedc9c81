"""Background jobs: a bulk action over many DAGs, its items and their outcomes.

A ``Job`` is the source of truth for a piece of background work: the queue
only carries its id. ``runner`` names the worker thread that holds it
(``host:pid:token``) while it runs; ``heartbeat`` is that runner's latest sign
of life, which lets a restarted or another worker resume a job whose worker
died (see ``console.services.jobs``).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from console.extensions import db
from console.models.states import JobItemState, JobState
from console.models.timeutil import utcnow


class Job(db.Model):  # type: ignore[name-defined,misc]
    """One background job, started by a person (``actor``) who is its identity in Airflow's audit."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Random, so that the run ids a job makes never repeat when a console database is recreated.
    uid: Mapped[str] = mapped_column(sa.String(32), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    actor: Mapped[str] = mapped_column(sa.String(255))
    state: Mapped[str] = mapped_column(sa.String(20), default=JobState.QUEUED, index=True)
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    runner: Mapped[str | None] = mapped_column(sa.String(255))
    #: How many times a worker started on it (more than one: it was resumed after a crash).
    attempts: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)

    user = relationship("User")
    items = relationship("JobItem", back_populates="job", order_by="JobItem.position", cascade="all, delete-orphan")

    @property
    def is_final(self) -> bool:
        return self.state in JobState.FINAL


class JobItem(db.Model):  # type: ignore[name-defined,misc]
    """One thing a job does (e.g. trigger one DAG on one server) and its outcome."""

    __tablename__ = "job_item"
    __table_args__ = (sa.UniqueConstraint("job_id", "position", name="uq_job_item_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("job.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    server_id: Mapped[int | None]
    server_name: Mapped[str] = mapped_column(sa.String(80), default="")
    dag_id: Mapped[str] = mapped_column(sa.String(250))
    state: Mapped[str] = mapped_column(sa.String(20), default=JobItemState.PENDING)
    message: Mapped[str | None] = mapped_column(sa.Text)
    run_id: Mapped[str | None] = mapped_column(sa.String(250))
    finished_at: Mapped[datetime | None]

    job = relationship("Job", back_populates="items")

    @property
    def key(self) -> str:
        """``"<server id>:<dag id>"``, as the DAG list's checkboxes send it."""
        return f"{self.server_id}:{self.dag_id}"


class WorkerHeartbeat(db.Model):  # type: ignore[name-defined,misc]
    """The latest sign of life of each job worker process (``manage.py worker``)."""

    __tablename__ = "worker_heartbeat"

    instance_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    hostname: Mapped[str] = mapped_column(sa.String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: Jobs it was running at its latest beat.
    running: Mapped[int] = mapped_column(default=0)
