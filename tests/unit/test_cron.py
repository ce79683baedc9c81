"""Cron validation, words and fire times -- across daylight-saving changes (Europe/Berlin 2026)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from console.services import cron

BERLIN = "Europe/Berlin"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fires(expression: str, tz: str, after: datetime, count: int) -> list[str]:
    """Fire times as ``local-wall-time offset = UTC`` strings, easy to read in a failure."""
    schedule = cron.parse(expression, tz)
    return [f"{f:%m-%d %H:%M%z} = {f.astimezone(UTC):%H:%MZ}" for f in schedule.fires_after(after, count)]


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 5 * * 1-5", "At 05:00, Monday through Friday"),
        ("* * * * *", "Every minute"),
        ("*/10 * * * * *", "Every 10 seconds"),
        ("30 2 * * *", "At 02:30"),
        ("@daily", "At 00:00"),
        ("0 0 * * 7", "At 00:00, only on Sunday"),
    ],
)
def test_describe_in_words(expression: str, words: str) -> None:
    assert cron.describe(expression) == words


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "Enter a cron expression"),
        ("* * *", "5 fields"),
        ("61 * * * *", "Minute: 61 is outside 0-59"),
        ("0 24 * * *", "Hour: 24 is outside 0-23"),
        ("5-3 * * * *", "runs backwards"),
        ("*/0 * * * *", "step must be at least 1"),
        ("0 0 * * funday", "not a number or a known name"),
        ("0 0 31 2 *", "never fires"),
        ("@reboot", "Unknown macro"),
        ("0 0 L * *", "not a number or a known name"),
    ],
)
def test_invalid_expressions_say_why(expression: str, message: str) -> None:
    with pytest.raises(cron.CronError, match=message):
        cron.parse(expression)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(cron.CronError, match="Unknown time zone 'Mars/Olympus'"):
        cron.parse("0 5 * * *", "Mars/Olympus")


def test_weekday_numbers_follow_cron_not_apscheduler() -> None:
    # 1-5 is Monday..Friday in cron (APScheduler alone would read Tuesday..Saturday).
    days = [f.strftime("%a") for f in cron.parse("0 5 * * 1-5").fires_after(utc(2026, 3, 1), 7)]
    assert days == ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon", "Tue"]


def test_day_and_weekday_both_restricted_means_either() -> None:
    got = [f.strftime("%a %d") for f in cron.parse("0 0 1 * mon").fires_after(utc(2026, 3, 27), 4)]
    assert got == ["Mon 30", "Wed 01", "Mon 06", "Mon 13"]


def test_spring_forward_skipped_time_fires_once_at_the_change() -> None:
    # 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does not exist that night.
    assert fires("30 2 * * *", BERLIN, utc(2026, 3, 27), 4) == [
        "03-27 02:30+0100 = 01:30Z",
        "03-28 02:30+0100 = 01:30Z",
        "03-29 03:00+0200 = 01:00Z",
        "03-30 02:30+0200 = 00:30Z",
    ]


def test_spring_forward_does_not_skip_the_next_day() -> None:
    # APScheduler 3.11's CronTrigger skips Monday 2026-03-30 here (test_scheduler_trigger.py); ours must not.
    got = [f.strftime("%a %d %H:%M%z") for f in cron.parse("0 0 * * *", BERLIN).fires_after(utc(2026, 3, 28), 3)]
    assert got == ["Sun 29 00:00+0100", "Mon 30 00:00+0200", "Tue 31 00:00+0200"]


def test_fall_back_repeated_time_fires_once() -> None:
    # 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice; a daily job runs once.
    assert fires("30 2 * * *", BERLIN, utc(2026, 10, 23), 4) == [
        "10-23 02:30+0200 = 00:30Z",
        "10-24 02:30+0200 = 00:30Z",
        "10-25 02:30+0200 = 00:30Z",
        "10-26 02:30+0100 = 01:30Z",
    ]


def test_fall_back_with_every_hour_fires_in_both_passes() -> None:
    assert fires("*/30 * * * *", BERLIN, utc(2026, 10, 24, 23, 50), 6) == [
        "10-25 02:00+0200 = 00:00Z",
        "10-25 02:30+0200 = 00:30Z",
        "10-25 02:00+0100 = 01:00Z",
        "10-25 02:30+0100 = 01:30Z",
        "10-25 03:00+0100 = 02:00Z",
        "10-25 03:30+0100 = 02:30Z",
    ]


def test_fires_between_is_strictly_increasing_across_both_changes() -> None:
    schedule = cron.parse("*/15 * * * *", BERLIN)
    for start in (utc(2026, 3, 28, 22), utc(2026, 10, 24, 22)):
        got = schedule.fires_between(start, start.replace(hour=23).replace(day=start.day + 1))
        instants = [f.astimezone(UTC) for f in got]
        assert instants == sorted(set(instants))
        assert all((b - a).total_seconds() == 900 for a, b in itertools.pairwise(instants))


def test_preview_shows_words_and_five_local_times() -> None:
    preview = cron.preview("30 2 * * *", BERLIN, now=utc(2026, 3, 27))
    assert preview["ok"] is True
    assert preview["description"] == "At 02:30"
    texts = [f["text"] for f in preview["next"]]  # type: ignore[index]
    assert texts == [
        "Fri 2026-03-27 02:30 CET (+01:00)",
        "Sat 2026-03-28 02:30 CET (+01:00)",
        "Sun 2026-03-29 03:00 CEST (+02:00)",
        "Mon 2026-03-30 02:30 CEST (+02:00)",
        "Tue 2026-03-31 02:30 CEST (+02:00)",
    ]


def test_preview_of_an_invalid_expression_is_an_error_not_an_exception() -> None:
    preview = cron.preview("0 25 * * *", "UTC")
    assert preview == {"ok": False, "error": "Hour: 25 is outside 0-23.", "description": "", "next": []}


def test_six_fields_have_seconds_first() -> None:
    got = [f.strftime("%H:%M:%S") for f in cron.parse("*/20 * * * * *").fires_after(utc(2026, 1, 1, 12, 0, 5), 3)]
    assert got == ["12:00:20", "12:00:40", "12:01:00"]


def test_croniter_alone_fires_a_repeated_autumn_time_twice_and_the_schedule_once() -> None:
    # The defect the adapter exists for: croniter runs 02:30 in both passes of 2026-10-25.
    after = utc(2026, 10, 24, 12)
    raw = croniter("30 2 * * *", after.astimezone(ZoneInfo(BERLIN)))
    by_croniter = [f"{raw.get_next(datetime):%m-%d %H:%M%z}" for _ in range(2)]
    ours = [f"{f:%m-%d %H:%M%z}" for f in cron.parse("30 2 * * *", BERLIN).fires_after(after, 2)]
    assert (by_croniter, ours) == (["10-25 02:30+0200", "10-25 02:30+0100"], ["10-25 02:30+0200", "10-26 02:30+0100"])


def test_day_starting_with_a_star_means_both_as_in_vixie_cron() -> None:
    # "*/2" restricts the day but starts with "*": Vixie cron then needs day AND weekday (croniter alone: either).
    got = [f.strftime("%a %d") for f in cron.parse("0 0 */2 * mon").fires_after(utc(2026, 3, 1), 3)]
    assert got == ["Mon 09", "Mon 23", "Mon 13"]


#: Each zone with the UTC instants of its two 2026 changes.
CHANGES = {
    BERLIN: (utc(2026, 3, 29, 1), utc(2026, 10, 25, 1)),
    "America/New_York": (utc(2026, 3, 8, 7), utc(2026, 11, 1, 6)),
    "Australia/Lord_Howe": (utc(2026, 4, 4, 15), utc(2026, 10, 3, 15, 30)),
}


@pytest.mark.parametrize("tz", CHANGES)
@pytest.mark.parametrize("expression", ["30 2 * * *", "*/15 * * * *", "0 1-3 * * *", "0 0 * * *", "15,45 */20 * * * *"])
def test_fires_between_walking_back_agrees_with_fires_after_across_both_changes(tz: str, expression: str) -> None:
    schedule = cron.parse(expression, tz)
    for change in CHANGES[tz]:
        start = change - timedelta(hours=6)
        forward = schedule.fires_after(start, 120)
        assert schedule.fires_between(start, forward[-1]) == forward


def test_fires_between_keeps_only_the_latest_limit() -> None:
    got = cron.parse("0 * * * *").fires_between(utc(2026, 1, 1), utc(2026, 1, 2), limit=3)
    assert got == [utc(2026, 1, 1, 22), utc(2026, 1, 1, 23), utc(2026, 1, 2)]
