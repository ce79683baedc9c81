"""Cron schedules: validate, describe in words, and list fire times in a time zone.

One schedule serves the form preview, the task list and the scheduler (its
trigger, :mod:`console.scheduler.trigger`, asks :class:`CronSchedule` for
every next fire), so what a person is shown is what fires. Accepted: five
fields (minute hour day month weekday, Vixie semantics: weekday 0 or 7 is
Sunday, names allowed, and when both day and weekday are restricted -- neither
starts with ``*`` -- a day matching *either* fires), six fields with seconds
first, and the macros ``@hourly @daily @midnight @weekly @monthly @yearly
@annually``. Nothing else: no ``L``, ``W``, ``#``, ``?`` or ``H``.

Fire times come from croniter, the library Airflow's own cron timetables use.
Daylight saving, for a zone that has it:

* local times skipped in spring fire once, at the change (``30 2 * * *`` in
  Europe/Berlin fires at 03:00 CEST on 2026-03-29), as Vixie cron does --
  croniter does this itself;
* a local time repeated in autumn fires once, at its first occurrence, unless
  the hour field is every hour (then every real hour fires, repeats
  included). croniter fires both occurrences; dropping the second is the one
  rule this module adds.

The field check below is ours only for its messages ("Minute: 61 is outside
0-59."); croniter's own say "out of range" without saying which field.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cron_descriptor import ExpressionDescriptor, Options
from croniter import CroniterBadDateError, CroniterError, croniter

from console.services.errors import ServiceError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
#: How far ahead a schedule is searched before it is declared never to fire.
SEARCH_YEARS = 10
_ITEM_RE = re.compile(r"^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(\d+))?$")


class CronError(ServiceError):
    """The cron expression or time zone cannot be used; the message says why."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


FIELDS = (
    _Field("second", 0, 59),
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, MONTHS, 1),
    _Field("day of week", 0, 7, WEEKDAYS, 0),
)


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone_names() -> list[str]:
    """Every IANA zone name this system knows, sorted, UTC first."""
    return ["UTC", *sorted(n for n in _zone_names() if n != "UTC")]


def zone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` for an IANA name; raise ``CronError`` for an unknown one."""
    name = (name or "").strip()
    if name != "UTC" and name not in _zone_names():
        raise CronError(f"Unknown time zone {name!r}: choose an IANA name such as Europe/Berlin.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(f"Unknown time zone {name!r}.") from None


def _value(token: str, field: _Field) -> int:
    if token.isdigit():
        number = int(token)
    elif token in field.names:
        number = field.names.index(token) + field.name_base
    else:
        raise CronError(f"{field.name.capitalize()}: {token!r} is not a number or a known name.")
    if not field.low <= number <= field.high:
        raise CronError(f"{field.name.capitalize()}: {number} is outside {field.low}-{field.high}.")
    return number


def _check_field(text: str, field: _Field) -> set[int]:
    """The values ``text`` selects (``1-5`` -> 1..5, ``*/15`` -> 0,15,30,45); ``CronError`` says what is wrong."""
    values: set[int] = set()
    for item in text.lower().split(","):
        match = _ITEM_RE.match(item)
        if not match:
            raise CronError(f"{field.name.capitalize()}: {item!r} is not valid cron syntax.")
        base, step_text = match.groups()
        step = int(step_text) if step_text else 1
        if step < 1:
            raise CronError(f"{field.name.capitalize()}: a step must be at least 1.")
        if base == "*":
            low, high = field.low, field.high
        elif "-" in base:
            low, high = (_value(part, field) for part in base.split("-"))
            if low > high:
                raise CronError(f"{field.name.capitalize()}: range {base!r} runs backwards.")
        else:
            low = _value(base, field)
            high = field.high if step_text else low
        values.update(range(low, high + 1, step))
    return values


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are UTC (as stored); aware ones are kept."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _second_pass(fire: datetime) -> bool:
    """Whether ``fire`` is the second occurrence of a wall time the clock went back over.

    Going back lowers the UTC offset, so the second pass is the one with the
    lower offset of the two a wall time can have.
    """
    first, this = fire.replace(fold=0).utcoffset(), fire.utcoffset()
    return first is not None and this is not None and this < first


@dataclass(frozen=True)
class CronSchedule:
    """A checked expression in a zone; fire times are aware datetimes in ``timezone``.

    ``expression`` is the normalised text a person typed. ``fields`` is the
    same schedule as croniter reads it: six fields, seconds first.
    """

    expression: str
    timezone: ZoneInfo
    fields: str
    day_or: bool
    every_hour: bool

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after ``moment`` (naive = UTC), or None if none is near."""
        return next(self._walk(_aware(moment), backwards=False), None)

    def fires_after(self, moment: datetime, count: int) -> list[datetime]:
        """The next ``count`` fire times strictly after ``moment``."""
        return list(itertools.islice(self._walk(_aware(moment), backwards=False), count))

    def fires_between(self, start: datetime, end: datetime, limit: int = 10_000) -> list[datetime]:
        """Fire times with ``start < t <= end``; only the latest ``limit`` when there are more.

        Walks back from ``end``, so a long window costs at most ``limit`` steps.
        """
        first, last = _aware(start), _aware(end)
        latest: list[datetime] = []
        for fire in self._walk(last + timedelta(seconds=1), backwards=True):
            if fire <= first or len(latest) == limit:
                break
            if fire <= last:
                latest.append(fire)
        return latest[::-1]

    def _walk(self, moment: datetime, *, backwards: bool) -> Iterator[datetime]:
        """Fire times from ``moment`` on (strictly after, or strictly before when ``backwards``)."""
        times = croniter(
            self.fields,
            moment.astimezone(self.timezone),
            day_or=self.day_or,
            second_at_beginning=True,
            max_years_between_matches=SEARCH_YEARS,
        )
        step = times.get_prev if backwards else times.get_next
        while True:
            try:
                fire: datetime = step(datetime)
            except CroniterBadDateError:
                return
            # croniter fires a repeated autumn wall time twice; cron runs it once.
            if self.every_hour or not _second_pass(fire):
                yield fire


def _split(expression: str) -> tuple[str, list[str]]:
    text = " ".join((expression or "").split())
    if not text:
        raise CronError("Enter a cron expression, e.g. 0 5 * * 1-5.")
    if text.lower() in MACROS:
        return text.lower(), ["0", *MACROS[text.lower()].split(" ")]
    if text.startswith("@"):
        raise CronError(f"Unknown macro {text!r}: use one of {', '.join(sorted(MACROS))}.")
    fields = text.split(" ")
    if len(fields) not in (5, 6):
        raise CronError(
            "A cron expression has 5 fields (minute hour day month weekday), or 6 with seconds first; "
            f"got {len(fields)}."
        )
    return text, fields if len(fields) == 6 else ["0", *fields]


@lru_cache(maxsize=4096)
def parse(expression: str, timezone: str = "UTC") -> CronSchedule:
    """Parse and check ``expression`` in ``timezone``; raise ``CronError`` saying what is wrong.

    An expression that never fires (e.g. ``0 0 31 2 *``) is an error too.
    """
    tz = zone(timezone)
    text, raw = _split(expression)
    values = [_check_field(part, field) for part, field in zip(raw, FIELDS, strict=True)]
    schedule = CronSchedule(
        expression=text,
        timezone=tz,
        fields=" ".join(raw).lower(),
        day_or=not raw[3].startswith("*") and not raw[5].startswith("*"),
        every_hour=len(values[2]) == 24,
    )
    try:
        first = schedule.next_after(datetime.now(UTC))
    except CroniterError as exc:  # the check above should have caught it; say croniter's reason
        raise CronError(f"{text!r}: {exc}") from None
    if first is None:
        raise CronError(f"{text!r} never fires.")
    return schedule


def describe(expression: str) -> str:
    """The expression in words, e.g. ``At 05:00, Monday through Friday`` (validates first)."""
    text = parse(expression).expression
    options = Options()
    options.use_24hour_time_format = True
    options.day_of_week_start_index_zero = True
    try:
        return str(ExpressionDescriptor(MACROS.get(text, text), options).get_description())
    except Exception:  # words are a nicety: the expression itself has been accepted
        return text


def format_fire(moment: datetime, tz: tzinfo) -> str:
    """``Mon 2026-03-30 02:30 CEST (+02:00)``: the wall time a person expects to see."""
    local = _aware(moment).astimezone(tz)
    clock = f"{local:%H:%M}" if local.second == 0 else f"{local:%H:%M:%S}"
    offset = local.strftime("%z")
    return f"{local:%a %Y-%m-%d} {clock} {local.tzname()} ({offset[:3]}:{offset[3:5]})"


def preview(expression: str, timezone: str, *, now: datetime | None = None, count: int = 5) -> dict[str, object]:
    """What the form shows while typing: ``{"ok", "description", "next": [...], "error"}``.

    Never raises: an invalid expression or zone gives ``ok: False`` and the reason.
    """
    try:
        schedule = parse(expression, timezone)
        description = describe(expression)
    except CronError as exc:
        return {"ok": False, "error": str(exc), "description": "", "next": []}
    fires = schedule.fires_after(now or datetime.now(UTC), count)
    return {
        "ok": True,
        "error": "",
        "expression": schedule.expression,
        "timezone": schedule.timezone.key,
        "description": description,
        "next": [{"iso": f.isoformat(), "text": format_fire(f, schedule.timezone)} for f in fires],
    }


def next_fire(expression: str, timezone: str, *, now: datetime | None = None) -> datetime | None:
    """The next fire time after ``now`` in the zone, or None if the schedule is invalid."""
    try:
        return parse(expression, timezone).next_after(now or datetime.now(UTC))
    except CronError:
        return None


def to_utc_naive(moment: datetime) -> datetime:
    """The stored form of a fire time: naive UTC."""
    return _aware(moment).astimezone(UTC).replace(tzinfo=None)
