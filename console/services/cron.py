"""Cron schedules: validate, describe in words, and list fire times in a time zone.

One parser serves the form preview, the task list and the scheduler (its
:class:`CronSchedule` is the APScheduler trigger of every task), so what a
person is shown is what fires. Accepted: five fields (minute hour day month
weekday, Vixie semantics: weekday 0 or 7 is Sunday, names allowed, and when
both day and weekday are restricted a day matching *either* fires), six fields
with seconds first, and the macros ``@hourly @daily @midnight @weekly
@monthly @yearly @annually``.

Fire times are computed on the local wall clock, then placed on the real
timeline. Daylight saving, for a zone that has it:

* local times skipped in spring fire once, at the change (``30 2 * * *`` in
  Europe/Berlin fires at 03:00 CEST on 2026-03-29), as Vixie cron does;
* a local time repeated in autumn fires once, at its first occurrence, unless
  the hour field is ``*`` (then every real hour fires, repeats included).

APScheduler 3.11's own ``CronTrigger`` is not used: in Europe/Berlin its
``0 0 * * *`` skips Monday 2026-03-30, the day after the spring change.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.base import BaseTrigger
from cron_descriptor import ExpressionDescriptor, Options

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
_SECOND = timedelta(seconds=1)


class CronError(ServiceError):
    """The cron expression or time zone cannot be used; the message says why."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


SECOND = _Field("second", 0, 59)
MINUTE = _Field("minute", 0, 59)
HOUR = _Field("hour", 0, 23)
DAY = _Field("day of month", 1, 31)
MONTH = _Field("month", 1, 12, MONTHS, 1)
WEEKDAY = _Field("day of week", 0, 7, WEEKDAYS, 0)


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


def _parse_field(text: str, field: _Field) -> tuple[int, ...]:
    """The sorted values ``text`` selects, e.g. ``1-5`` -> 1..5, ``*/15`` -> 0,15,30,45."""
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
    if field is WEEKDAY and 7 in values:
        values = (values - {7}) | {0}
    return tuple(sorted(values))


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are UTC (as stored); aware ones are kept."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class CronSchedule(BaseTrigger):
    """A parsed expression in a zone; also the APScheduler trigger of a task's job.

    ``expression`` is the normalised text. Fire times are aware datetimes in
    the zone; :meth:`get_next_fire_time` follows APScheduler's contract (the
    first fire at or after ``now``, or the first strictly after
    ``previous_fire_time``).
    """

    def __init__(self, expression: str, tz: ZoneInfo, fields: list[tuple[int, ...]], day_or: bool) -> None:
        self.expression = expression
        self.timezone = tz
        self._seconds, self._minutes, self._hours, self._days, self._months, weekdays = fields
        self._weekdays = frozenset(weekdays)
        self._day_or = day_or
        self._every_hour = len(self._hours) == 24

    # -- APScheduler ----------------------------------------------------------

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        if previous_fire_time is not None:
            return self.next_after(previous_fire_time)
        return self.next_after(_aware(now) - timedelta(microseconds=1))

    def __str__(self) -> str:
        return f"cron[{self.expression}, {self.timezone.key}]"

    def __repr__(self) -> str:
        return f"<CronSchedule {self.expression!r} tz={self.timezone.key!r}>"

    # -- fire times -----------------------------------------------------------

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after ``moment`` (naive = UTC), or None if none is near."""
        after = _aware(moment).astimezone(UTC)
        local = after.astimezone(self.timezone)
        wall = local.replace(tzinfo=None, fold=0)
        repeat = self._repeat_length(wall)
        if local.fold == 0 and repeat:
            wall -= repeat  # the second pass of a repeated hour still lies ahead
        found: list[datetime] = []
        for _ in range(10_000):
            candidate = self._next_wall(wall)
            if candidate is None:
                return None
            instants, settled = self._place(candidate)
            found.extend(i for i in instants if i > after)
            if settled and found:
                return min(found).astimezone(self.timezone)
            wall = candidate
        return None

    def fires_after(self, moment: datetime, count: int) -> list[datetime]:
        """The next ``count`` fire times strictly after ``moment``."""
        out: list[datetime] = []
        current: datetime | None = moment
        while len(out) < count and current is not None:
            current = self.next_after(current)
            if current is not None:
                out.append(current)
        return out

    def fires_between(self, start: datetime, end: datetime, limit: int = 10_000) -> list[datetime]:
        """Fire times with ``start < t <= end``; only the latest ``limit`` when there are more."""
        out: list[datetime] = []
        end_utc = _aware(end)
        current: datetime | None = start
        while (current := self.next_after(current)) is not None and current <= end_utc:  # type: ignore[arg-type]
            out.append(current)
            if len(out) > limit:
                del out[0]
        return out

    # -- the wall clock -------------------------------------------------------

    def _day_matches(self, day: date) -> bool:
        in_days = day.day in self._days
        in_weekdays = (day.weekday() + 1) % 7 in self._weekdays
        return (in_days or in_weekdays) if self._day_or else (in_days and in_weekdays)

    def _time_at_or_after(self, at: time) -> time | None:
        hours, minutes, seconds = self._hours, self._minutes, self._seconds
        i = bisect.bisect_left(hours, at.hour)
        if i < len(hours) and hours[i] == at.hour:
            j = bisect.bisect_left(minutes, at.minute)
            if j < len(minutes) and minutes[j] == at.minute:
                k = bisect.bisect_left(seconds, at.second)
                if k < len(seconds):
                    return time(at.hour, at.minute, seconds[k])
                j += 1
            if j < len(minutes):
                return time(at.hour, minutes[j], seconds[0])
            i += 1
        return time(hours[i], minutes[0], seconds[0]) if i < len(hours) else None

    def _next_wall(self, wall: datetime) -> datetime | None:
        """The first matching wall-clock time strictly after ``wall`` (naive, local)."""
        current = wall.replace(microsecond=0) + _SECOND
        limit = current.year + SEARCH_YEARS
        while current.year <= limit:
            if current.month not in self._months:
                year, month = (current.year + 1, 1) if current.month == 12 else (current.year, current.month + 1)
                current = datetime(year, month, 1)
                continue
            if self._day_matches(current.date()):
                at = self._time_at_or_after(current.time())
                if at is not None:
                    return datetime.combine(current.date(), at)
            current = datetime.combine(current.date() + timedelta(days=1), time())
        return None

    def _repeat_length(self, wall: datetime) -> timedelta:
        """How much the clock was set back if ``wall`` occurs twice, else zero."""
        first = wall.replace(tzinfo=self.timezone, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=self.timezone, fold=1).astimezone(UTC)
        if second > first and first.astimezone(self.timezone).replace(tzinfo=None) == wall:
            return second - first
        return timedelta(0)

    def _place(self, wall: datetime) -> tuple[list[datetime], bool]:
        """The real instants of a wall time, and whether later wall times come later in time."""
        first = wall.replace(tzinfo=self.timezone, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=self.timezone, fold=1).astimezone(UTC)
        if first == second:
            return [first], True
        if first.astimezone(self.timezone).replace(tzinfo=None) == wall:  # repeated in autumn
            return ([first, second] if self._every_hour else [first]), False
        return [self._gap_end(min(first, second), max(first, second), wall)], True

    def _gap_end(self, low: datetime, high: datetime, wall: datetime) -> datetime:
        """The instant the clock jumped past ``wall`` (which does not exist)."""
        while high - low > _SECOND:
            middle = low + (high - low) / 2
            if middle.astimezone(self.timezone).replace(tzinfo=None) > wall:
                high = middle
            else:
                low = middle
        return high.replace(microsecond=0)


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
    kinds = (SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY)
    fields = [_parse_field(part, kind) for part, kind in zip(raw, kinds, strict=True)]
    day_or = not raw[3].startswith("*") and not raw[5].startswith("*")
    schedule = CronSchedule(text, tz, fields, day_or)
    if schedule.next_after(datetime.now(UTC)) is None:
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
    except Exception:  # words are a nicety: the parser above has accepted the expression
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
