"""The APScheduler trigger of a task's job: APScheduler's contract, on the console's schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from console.scheduler.trigger import ScheduleTrigger
from console.services import cron

BERLIN = "Europe/Berlin"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def days_fired(trigger: BaseTrigger, now: datetime, count: int) -> list[str]:
    """The first ``count`` fires as APScheduler asks for them: each after the previous, at that time."""
    out: list[str] = []
    previous: datetime | None = None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, now)
        assert previous is not None
        now = previous
        out.append(f"{previous:%a %d %H:%M%z}")
    return out


def test_apscheduler_contract_first_fire_is_at_or_after_now() -> None:
    trigger = ScheduleTrigger(cron.parse("0 * * * *"))
    assert trigger.get_next_fire_time(None, utc(2026, 1, 1, 12)) == utc(2026, 1, 1, 12)
    assert trigger.get_next_fire_time(utc(2026, 1, 1, 12), utc(2026, 1, 1, 15)) == utc(2026, 1, 1, 13)


def test_apschedulers_own_cron_trigger_skips_the_day_after_spring_forward() -> None:
    # The measured defect that keeps CronTrigger out: no fire on Monday 2026-03-30 in Berlin.
    theirs = CronTrigger.from_crontab("0 0 * * *", timezone=ZoneInfo(BERLIN))
    assert days_fired(theirs, utc(2026, 3, 28), 3) == ["Sun 29 00:00+0100", "Tue 31 00:00+0200", "Wed 01 00:00+0200"]


def test_the_console_trigger_fires_every_day_across_spring_forward() -> None:
    ours = ScheduleTrigger(cron.parse("0 0 * * *", BERLIN))
    assert days_fired(ours, utc(2026, 3, 28), 3) == ["Sun 29 00:00+0100", "Mon 30 00:00+0200", "Tue 31 00:00+0200"]


def test_the_trigger_names_the_schedule() -> None:
    assert str(ScheduleTrigger(cron.parse("0 5 * * 1-5", BERLIN))) == "cron[0 5 * * 1-5, Europe/Berlin]"
