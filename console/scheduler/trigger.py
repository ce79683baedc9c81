"""The APScheduler trigger of a task's job: a thin adapter over :class:`console.services.cron.CronSchedule`.

The job fires exactly when the schedule the form previewed says it does.
APScheduler 3.11's own ``CronTrigger`` is not used: in Europe/Berlin its
``0 0 * * *`` skips Monday 2026-03-30, the day after the spring change
(``tests/unit/test_scheduler_trigger.py`` keeps that measured).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger

from console.services.cron import CronSchedule


class ScheduleTrigger(BaseTrigger):
    """Fires at the fire times of ``schedule``.

    :meth:`get_next_fire_time` follows APScheduler's contract: the first fire
    at or after ``now``, or the first strictly after ``previous_fire_time``.
    """

    def __init__(self, schedule: CronSchedule) -> None:
        self.schedule = schedule

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        if previous_fire_time is not None:
            return self.schedule.next_after(previous_fire_time)
        return self.schedule.next_after(now - timedelta(microseconds=1))

    def __str__(self) -> str:
        return f"cron[{self.schedule.expression}, {self.schedule.timezone.key}]"

    def __repr__(self) -> str:
        return f"<ScheduleTrigger {self.schedule.expression!r} tz={self.schedule.timezone.key!r}>"
