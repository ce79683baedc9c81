"""APScheduler jobs rebuilt from the tasks table, the source of truth.

Each enabled task has one job, id ``task-<id>``, whose trigger
(:class:`console.scheduler.trigger.ScheduleTrigger`) follows the task's
:class:`console.services.cron.CronSchedule`. :meth:`Reconciler.sync` compares
the table with the jobs (by ``updated_at``) and adds, replaces and removes
jobs; the scheduler calls it every poll, so a created, edited, disabled or
deleted task is picked up within seconds.

Jobs do not run code of their own: :class:`RecordingExecutor` hands each
due job's exact fire times to a callback (which queues them to be recorded),
so a fire is recorded with the time it was scheduled for, not the time a
thread got round to it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from apscheduler.executors.base import BaseExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler

from console.extensions import db
from console.models import Task
from console.scheduler.trigger import ScheduleTrigger
from console.services import cron

log = logging.getLogger(__name__)

FireCallback = Callable[[int, list[datetime]], None]


def job_id(task_id: int) -> str:
    """The stable APScheduler job id of a task."""
    return f"task-{task_id}"


class RecordingExecutor(BaseExecutor):
    """Calls ``job.func(*job.args, fire_times)`` in the scheduler thread with the fire times APScheduler computed.

    The callback must be quick (ours puts the fires on a queue). No instance
    bookkeeping: a job is never "running", so a slow recorder never makes
    APScheduler skip a fire.
    """

    def submit_job(self, job: Any, run_times: list[datetime]) -> None:
        try:
            job.func(*job.args, list(run_times))
        except Exception:
            self._logger.exception("Recording the fires of job %s failed", job.id)

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        self.submit_job(job, run_times)


@dataclass
class SyncResult:
    """What one :meth:`Reconciler.sync` changed; ``fresh`` are tasks whose job was (re)made."""

    added: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    fresh: list[Task] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


class Reconciler:
    """Keeps ``scheduler``'s jobs equal to the enabled tasks; ``on_fire(task_id, fire_times)`` records fires."""

    def __init__(self, scheduler: BaseScheduler, on_fire: FireCallback, executor: str = "default") -> None:
        self.scheduler = scheduler
        self.on_fire = on_fire
        self.executor = executor
        self.versions: dict[int, datetime] = {}

    def sync(self) -> SyncResult:
        """Bring the jobs in line with the tasks table (reads it; writes nothing).

        Cheap when nothing changed: one query for the ids and ``updated_at`` of
        the enabled tasks; only new or changed tasks are loaded in full.
        """
        result = SyncResult()
        stamps = dict(
            db.session.execute(sa.select(Task.id, Task.updated_at).where(Task.enabled.is_(True))).tuples().all()
        )
        for task_id in [t for t in self.versions if t not in stamps]:
            self._remove(task_id)
            result.removed.append(task_id)
        changed = [task_id for task_id, stamp in stamps.items() if self.versions.get(task_id) != stamp]
        for task in db.session.scalars(sa.select(Task).where(Task.id.in_(changed))) if changed else []:
            known = task.id in self.versions
            if self._schedule(task):
                (result.changed if known else result.added).append(task.id)
                result.fresh.append(task)
            elif known:
                result.removed.append(task.id)
        if result:
            log.info(
                "reconciled jobs: %d added, %d changed, %d removed (%d jobs)",
                len(result.added),
                len(result.changed),
                len(result.removed),
                len(self.versions),
            )
        return result

    def clear(self) -> None:
        """Remove every job (leadership lost)."""
        for task_id in list(self.versions):
            self._remove(task_id)

    def _schedule(self, task: Task) -> bool:
        try:
            schedule = cron.parse(task.cron, task.timezone)
        except cron.CronError as exc:
            log.error("task %s has an unusable schedule (%s); it will not fire", task.id, exc)
            self._remove(task.id)
            return False
        self.scheduler.add_job(
            self.on_fire,
            trigger=ScheduleTrigger(schedule),
            args=[task.id],
            id=job_id(task.id),
            name=task.name,
            executor=self.executor,
            replace_existing=True,
            coalesce=False,
            misfire_grace_time=None,
        )
        self.versions[task.id] = task.updated_at
        return True

    def _remove(self, task_id: int) -> None:
        self.versions.pop(task_id, None)
        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(job_id(task_id))
