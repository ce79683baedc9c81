"""How the DAG screens show times, durations and states (passed to their templates as ``fmt``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

RUN_TYPES = {"manual": "Manual", "scheduled": "Scheduled", "backfill": "Backfill", "asset_triggered": "Asset"}


def badge(state: str | None) -> str:
    """The palette class of a state (``states.css``): ``state-<state>``, ``state-none`` when there is none."""
    return f"state-{state or 'none'}"


def _aware(value: datetime) -> datetime:
    """Airflow's times are aware; the console's own columns are naive UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def when(value: datetime | None) -> str:
    """``2026-11-25 17:49:26 UTC``, or an em dash."""
    if value is None:
        return "\u2014"
    return _aware(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: datetime | None) -> str:
    return "" if value is None else _aware(value).astimezone(UTC).isoformat()


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """``3 min ago`` / ``in 2 h``: a rough distance to now, for a glance."""
    if value is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - _aware(value)).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            text = f"{int(seconds // size)} {unit}"
            break
    else:
        text = f"{int(seconds)} s"
    return f"in {text}" if future else f"{text} ago"


def duration(seconds: float | None) -> str:
    """``850 ms``, ``12.4 s``, ``3m 05s``, ``2h 01m``; an em dash when unknown."""
    if seconds is None:
        return "\u2014"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def run_type(value: str | None) -> str:
    return RUN_TYPES.get(value or "", (value or "").replace("_", " ").capitalize())


def pretty_json(value: Any) -> str:
    """Indented JSON as plain text (the template escapes it like any other text)."""
    return json.dumps(value, indent=2, sort_keys=True, default=str)
