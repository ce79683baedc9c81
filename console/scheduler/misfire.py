"""Fires the scheduler did not see: after downtime, a lost leader, or a task just (re)enabled.

For each enabled task, the fires between *since* -- the later of its last
recorded scheduled fire and its last edit (enabling, or changing the cron,
starts afresh) -- and *now* are planned by :func:`plan`:

* a fire at most ``grace`` old is simply late: fired as usual (kind 'scheduled');
* older fires were missed. Policy ``skip`` records each as state 'missed';
  ``run_once`` records all but the latest as 'missed' and fires the latest
  once (kind 'caught_up').

Only the latest ``max_missed`` missed fires are recorded, so a long outage of
an every-minute task does not flood its history. Every function takes
``now`` explicitly: the tests freeze the clock by passing it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from console.extensions import db
from console.models import FireState, Task, TaskRun
from console.services import cron
from console.services.fires import Fire, record_fires

MISSED_ERROR = "missed: the scheduler was not running at this time (misfire policy: {policy})"


def plan(
    task_id: int,
    schedule: cron.CronSchedule,
    policy: str,
    *,
    since: datetime,
    now: datetime,
    grace: timedelta,
    max_missed: int = 100,
) -> list[Fire]:
    """The fires of ``schedule`` in ``(since, now]`` and what to do with each (see the module doc)."""
    times = [cron.to_utc_naive(t) for t in schedule.fires_between(since, now, limit=max_missed + 1_000)]
    late = [t for t in times if now - t <= grace]
    missed = [t for t in times if now - t > grace]
    caught_up = missed.pop() if policy == "run_once" and missed else None
    error = MISSED_ERROR.format(policy=policy)
    fires = [Fire(task_id, t, state=FireState.MISSED, error=error) for t in missed[-max_missed:]]
    if caught_up is not None:
        fires.append(Fire(task_id, caught_up, kind="caught_up"))
    fires.extend(Fire(task_id, t) for t in late)
    return fires


def since_for(task: Task, before: datetime | None = None) -> datetime:
    """Where the catch-up window of ``task`` starts: its last recorded scheduled fire (before
    ``before``, when given) or its last edit."""
    query = sa.select(sa.func.max(TaskRun.scheduled_for)).where(TaskRun.task_id == task.id, TaskRun.kind != "manual")
    if before is not None:
        query = query.where(TaskRun.scheduled_for < before)
    last = db.session.scalar(query)
    return max(last, task.updated_at) if last else task.updated_at


def catch_up(
    tasks: list[Task], *, now: datetime, grace: timedelta, max_missed: int = 100, before: datetime | None = None
) -> int:
    """Plan and record the unseen fires of ``tasks`` (enabled ones); returns how many rows were new.

    ``before``: the moment the tasks' jobs were (re)started. A job may fire and record a fire
    before the catch-up runs; the window starts from the last fire recorded before that moment,
    so such a fire cannot hide the gap behind it. The caller commits. Recording is idempotent,
    so running this twice, or in two schedulers, records each fire once.
    """
    fires: list[Fire] = []
    for task in tasks:
        if not task.enabled:
            continue
        try:
            schedule = cron.parse(task.cron, task.timezone)
        except cron.CronError:
            continue
        since = since_for(task, before)
        fires.extend(
            plan(task.id, schedule, task.misfire_policy, since=since, now=now, grace=grace, max_missed=max_missed)
        )
    return record_fires(fires, now=now)
