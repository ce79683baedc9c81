"""The dashboard's charts, computed from the capped sample of recent runs of every server.

Each chart is plain JSON for ``static/js/home.js`` (Chart.js): labels, datasets with the palette
class of their state (``states.css``), and for each dataset or element a *target*: what the
element stands for, which the view turns into the link behind it -- ``{"state": s, "from": f,
"to": t}`` is the Runs list of that state over that time (UTC; ``from``/``to`` as the Runs list
reads them: a date is a whole day, a date and time an exclusive end), ``{"server_id": i,
"dag_id": d}`` a DAG's page.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.models.states import DagRunState

if TYPE_CHECKING:
    from console.airflow.client import DagRun

#: Bottom to top in the stacked charts.
STACK = (DagRunState.SUCCESS, DagRunState.FAILED, DagRunState.RUNNING, DagRunState.QUEUED)
#: How many DAGs the "slowest" and "most failing" charts show.
TOP = 10

Run = tuple[int, str, "DagRun"]


def naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _span(starts: list[datetime], step: timedelta, index: int | None = None) -> dict[str, str]:
    """The Runs list's ``from``/``to`` of element ``index`` (every element when ``None``): whole
    days as dates, hours as exclusive date-and-time ends."""
    first, last = (starts[0], starts[-1]) if index is None else (starts[index], starts[index])
    if step >= timedelta(days=1):
        return {"from": first.strftime("%Y-%m-%d"), "to": last.strftime("%Y-%m-%d")}
    return {"from": first.strftime("%Y-%m-%dT%H:%M"), "to": (last + step).strftime("%Y-%m-%dT%H:%M")}


def _targets(state: str, starts: list[datetime], step: timedelta) -> dict[str, Any]:
    """The dataset's target (the state over the whole chart) and each element's (its bucket)."""
    return {
        "target": {"state": state, **_span(starts, step)},
        "targets": [{"state": state, **_span(starts, step, i)} for i in range(len(starts))],
    }


def _stacked(runs: list[Run], starts: list[datetime], step: timedelta, labels: list[str]) -> dict[str, Any]:
    counts: dict[str, list[int]] = {state: [0] * len(starts) for state in STACK}
    first = starts[0]
    for _sid, _name, run in runs:
        at = naive_utc(run.run_after)
        if at is None or at < first or run.state not in counts:
            continue
        index = int((at - first) / step)
        if index < len(starts):
            counts[run.state][index] += 1
    return {
        "type": "bar",
        "stacked": True,
        "labels": labels,
        "datasets": [
            {
                "label": str(state),
                "class": f"state-{state}",
                "data": counts[state],
                **_targets(str(state), starts, step),
            }
            for state in STACK
        ],
    }


def per_hour(runs: list[Run], now: datetime) -> dict[str, Any]:
    """Runs per hour (by ``run_after``, UTC) over the last 24 hours, stacked by state."""
    top = now.replace(minute=0, second=0, microsecond=0)
    starts = [top - timedelta(hours=23 - i) for i in range(24)]
    return _stacked(runs, starts, timedelta(hours=1), [s.strftime("%H:00") for s in starts])


def _day_starts(now: datetime) -> list[datetime]:
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return [today - timedelta(days=6 - i) for i in range(7)]


def per_day(runs: list[Run], now: datetime) -> dict[str, Any]:
    """Runs per day (UTC) over the last 7 days, stacked by state."""
    starts = _day_starts(now)
    return _stacked(runs, starts, timedelta(days=1), [s.strftime("%a %d") for s in starts])


def success_rate(runs: list[Run], now: datetime) -> dict[str, Any]:
    """The share of finished runs that succeeded, per day over the last 7 days (``None`` on a day
    without a finished run)."""
    starts = _day_starts(now)
    daily = per_day(runs, now)
    by_state = {d["label"]: d["data"] for d in daily["datasets"]}
    rates: list[float | None] = []
    for ok, failed in zip(by_state[DagRunState.SUCCESS], by_state[DagRunState.FAILED], strict=True):
        rates.append(round(100.0 * ok / (ok + failed), 1) if ok + failed else None)
    return {
        "type": "line",
        "labels": daily["labels"],
        "max": 100,
        "datasets": [
            {
                "label": "success %",
                "class": "state-success",
                "data": rates,
                **_targets(str(DagRunState.FAILED), starts, timedelta(days=1)),
            }
        ],
    }


def p95(values: list[float]) -> float:
    """The 95th percentile by nearest rank (``values`` not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _dag_label(server_name: str, dag_id: str, several: bool) -> str:
    return f"{dag_id} ({server_name})" if several else dag_id


def _dag_bars(
    ranked: list[tuple[tuple[int, str, str], float]], label: str, css: str, several: bool, state: str = ""
) -> dict[str, Any]:
    return {
        "type": "bar",
        "horizontal": True,
        "labels": [_dag_label(name, dag_id, several) for (_sid, name, dag_id), _v in ranked],
        "datasets": [
            {
                "label": label,
                "class": css,
                "data": [value for _key, value in ranked],
                "targets": [
                    {"server_id": sid, "dag_id": dag_id, "state": state} for (sid, _name, dag_id), _v in ranked
                ],
            }
        ],
    }


def slowest(runs: list[Run], several: bool) -> dict[str, Any]:
    """The ``TOP`` DAGs with the longest p95 duration of their finished runs, in seconds."""
    durations: dict[tuple[int, str, str], list[float]] = defaultdict(list)
    for sid, name, run in runs:
        if run.duration is not None and run.state in DagRunState.FINAL:
            durations[(sid, name, run.dag_id)].append(run.duration)
    ranked = sorted(((key, round(p95(d), 1)) for key, d in durations.items()), key=lambda kv: (-kv[1], kv[0]))
    return _dag_bars(ranked[:TOP], "p95 seconds", "state-running", several)


def most_failing(runs: list[Run], several: bool) -> dict[str, Any]:
    """The ``TOP`` DAGs with the most failed runs."""
    failed: Counter[tuple[int, str, str]] = Counter(
        (sid, name, run.dag_id) for sid, name, run in runs if run.state == DagRunState.FAILED
    )
    ranked = sorted(((key, float(count)) for key, count in failed.items()), key=lambda kv: (-kv[1], kv[0]))
    return _dag_bars(ranked[:TOP], "failed runs", "state-failed", several, state=DagRunState.FAILED)


def build(runs: list[Run], now: datetime) -> dict[str, dict[str, Any]]:
    """Every chart of the page, keyed by its canvas name."""
    several = len({sid for sid, _name, _run in runs}) > 1
    charts = {
        "per_hour": per_hour(runs, now),
        "per_day": per_day(runs, now),
        "success_rate": success_rate(runs, now),
        "slowest": slowest(runs, several),
        "most_failing": most_failing(runs, several),
    }
    for chart in charts.values():
        chart["empty"] = not any(value for data in chart["datasets"] for value in data["data"])
    return charts
