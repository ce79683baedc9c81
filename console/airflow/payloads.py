"""Airflow's JSON answers as plain, frozen dataclasses.

Contract: everything here is pure -- no I/O, no Flask, no official client.
The result types (:class:`Dag`, :class:`DagDetails`, :class:`DagRun`,
:class:`TaskInstance`, :class:`LogLine`, :class:`LogPage`, :class:`DagImportError`) are what the app
sees; ``to_dict()`` gives a JSON-ready dict (ISO datetimes).  The ``parse_*``
functions turn one decoded JSON answer into results, and raise
:class:`BadPayload` (naming the offending field) -- never anything else -- when
a field is missing or of the wrong type; the session turns that into
:class:`~console.airflow.errors.AirflowUnexpectedPayload`.  Naive datetimes are
read as UTC.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# --------------------------------------------------------------------------
# Plain results
# --------------------------------------------------------------------------


class _Plain:
    """``to_dict()`` for the result dataclasses: JSON-ready (ISO datetimes)."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in dataclasses.asdict(self).items()}  # type: ignore[call-overload]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Dag(_Plain):
    dag_id: str
    dag_display_name: str
    is_paused: bool
    is_stale: bool
    has_import_errors: bool
    description: str | None
    owners: list[str]
    tags: list[str]
    timetable_summary: str | None
    timetable_description: str | None
    next_dagrun_logical_date: datetime | None
    next_dagrun_run_after: datetime | None
    max_active_runs: int | None
    fileloc: str | None
    file_token: str | None
    bundle_name: str | None


@dataclass(frozen=True, slots=True)
class DagDetails(Dag):
    #: ``params`` exactly as Airflow returns them: ``{name: {"value": ...,
    #: "schema": {...}, "description": ..., "__class": ...}}``.
    params: dict[str, Any]
    doc_md: str | None
    catchup: bool | None
    start_date: datetime | None
    end_date: datetime | None
    timezone: str | None
    default_args: dict[str, Any]
    active_runs_count: int | None
    #: When Airflow last parsed the DAG's file.
    last_parsed_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class DagRun(_Plain):
    dag_id: str
    run_id: str
    state: str
    run_type: str
    logical_date: datetime | None
    run_after: datetime | None
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    #: Seconds, as Airflow computes it (``None`` while running).
    duration: float | None
    note: str | None
    conf: dict[str, Any]
    triggered_by: str | None
    triggering_user_name: str | None
    dag_display_name: str | None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None


@dataclass(frozen=True, slots=True)
class TaskInstance(_Plain):
    dag_id: str
    run_id: str
    task_id: str
    task_display_name: str | None
    map_index: int
    state: str | None
    try_number: int
    max_tries: int | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    #: Operator class name, e.g. ``_PythonDecoratedOperator``.
    operator: str | None
    #: What the author wrote, e.g. ``@task`` or ``BashOperator``.
    operator_name: str | None
    hostname: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class DagImportError(_Plain):
    """A DAG file Airflow could not import."""

    #: As Airflow stores it (relative to its bundle, or absolute).
    filename: str
    bundle_name: str | None
    stack_trace: str | None
    #: When Airflow last failed to import the file.
    timestamp: datetime | None = None
    import_error_id: int | None = None


@dataclass(frozen=True, slots=True)
class LogLine(_Plain):
    timestamp: datetime | None
    level: str | None
    event: str
    #: Every other key of the structured message (logger, filename, ...).
    extra: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LogPage(_Plain):
    lines: list[LogLine]
    continuation_token: str | None


# --------------------------------------------------------------------------
# Payload reading helpers: JSON dict -> typed values, or BadPayload(field)
# --------------------------------------------------------------------------


class BadPayload(Exception):
    """A field of an answer is missing or of the wrong type; ``.field`` names it."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def _dict(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadPayload(name)
    return value


def _str(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise BadPayload(key)
    return value


def _ostr(d: dict[str, Any], key: str) -> str | None:
    value = d.get(key)
    if value is None or isinstance(value, str):
        return value
    raise BadPayload(key)


def _bool(d: dict[str, Any], key: str, default: bool | None = None) -> bool:
    value = d.get(key, default)
    if not isinstance(value, bool):
        raise BadPayload(key)
    return value


def _obool(d: dict[str, Any], key: str) -> bool | None:
    value = d.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise BadPayload(key)


def _oint(d: dict[str, Any], key: str) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadPayload(key)
    return value


def _int(d: dict[str, Any], key: str) -> int:
    value = _oint(d, key)
    if value is None:
        raise BadPayload(key)
    return value


def _ofloat(d: dict[str, Any], key: str) -> float | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadPayload(key)
    return float(value)


def _parse_dt(value: Any, key: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadPayload(key)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadPayload(key) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _odt(d: dict[str, Any], key: str) -> datetime | None:
    return _parse_dt(d.get(key), key)


def _odict(d: dict[str, Any], key: str) -> dict[str, Any]:
    value = d.get(key)
    if value is None:
        return {}
    return _dict(value, key)


def _strlist(d: dict[str, Any], key: str) -> list[str]:
    value = d.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadPayload(key)
    return list(value)


def _list(d: dict[str, Any], key: str) -> list[Any]:
    value = d.get(key)
    if not isinstance(value, list):
        raise BadPayload(key)
    return value


def _dag_fields(d: dict[str, Any]) -> dict[str, Any]:
    tags = []
    for tag in d.get("tags") or []:
        if isinstance(tag, str):
            tags.append(tag)
        else:
            tags.append(_str(_dict(tag, "tags"), "name"))
    dag_id = _str(d, "dag_id")
    return {
        "dag_id": dag_id,
        "dag_display_name": _ostr(d, "dag_display_name") or dag_id,
        "is_paused": _bool(d, "is_paused"),
        "is_stale": _bool(d, "is_stale", False),
        "has_import_errors": _bool(d, "has_import_errors", False),
        "description": _ostr(d, "description"),
        "owners": _strlist(d, "owners"),
        "tags": tags,
        "timetable_summary": _ostr(d, "timetable_summary"),
        "timetable_description": _ostr(d, "timetable_description"),
        "next_dagrun_logical_date": _odt(d, "next_dagrun_logical_date"),
        "next_dagrun_run_after": _odt(d, "next_dagrun_run_after"),
        "max_active_runs": _oint(d, "max_active_runs"),
        "fileloc": _ostr(d, "fileloc"),
        "file_token": _ostr(d, "file_token"),
        "bundle_name": _ostr(d, "bundle_name"),
    }


def parse_dag(raw: Any) -> Dag:
    return Dag(**_dag_fields(_dict(raw, "dag")))


def parse_dag_details(raw: Any) -> DagDetails:
    d = _dict(raw, "dag")
    return DagDetails(
        **_dag_fields(d),
        params=_odict(d, "params"),
        doc_md=_ostr(d, "doc_md"),
        catchup=_obool(d, "catchup"),
        start_date=_odt(d, "start_date"),
        end_date=_odt(d, "end_date"),
        timezone=_ostr(d, "timezone"),
        default_args=_odict(d, "default_args"),
        active_runs_count=_oint(d, "active_runs_count"),
        last_parsed_time=_odt(d, "last_parsed_time"),
    )


def parse_import_error(raw: Any) -> DagImportError:
    d = _dict(raw, "import_error")
    return DagImportError(
        filename=_str(d, "filename"),
        bundle_name=_ostr(d, "bundle_name"),
        stack_trace=_ostr(d, "stack_trace"),
        timestamp=_odt(d, "timestamp"),
        import_error_id=_oint(d, "import_error_id"),
    )


def parse_dag_run(raw: Any) -> DagRun:
    d = _dict(raw, "dag_run")
    return DagRun(
        dag_id=_str(d, "dag_id"),
        run_id=_str(d, "dag_run_id"),
        state=_str(d, "state"),
        run_type=_str(d, "run_type"),
        logical_date=_odt(d, "logical_date"),
        run_after=_odt(d, "run_after"),
        queued_at=_odt(d, "queued_at"),
        start_date=_odt(d, "start_date"),
        end_date=_odt(d, "end_date"),
        duration=_ofloat(d, "duration"),
        note=_ostr(d, "note"),
        conf=_odict(d, "conf"),
        triggered_by=_ostr(d, "triggered_by"),
        triggering_user_name=_ostr(d, "triggering_user_name"),
        dag_display_name=_ostr(d, "dag_display_name"),
        data_interval_start=_odt(d, "data_interval_start"),
        data_interval_end=_odt(d, "data_interval_end"),
    )


def parse_task_instance(raw: Any) -> TaskInstance:
    d = _dict(raw, "task_instance")
    return TaskInstance(
        dag_id=_str(d, "dag_id"),
        run_id=_str(d, "dag_run_id"),
        task_id=_str(d, "task_id"),
        task_display_name=_ostr(d, "task_display_name"),
        map_index=_int(d, "map_index"),
        state=_ostr(d, "state"),
        try_number=_int(d, "try_number"),
        max_tries=_oint(d, "max_tries"),
        start_date=_odt(d, "start_date"),
        end_date=_odt(d, "end_date"),
        duration=_ofloat(d, "duration"),
        operator=_ostr(d, "operator"),
        operator_name=_ostr(d, "operator_name"),
        hostname=_ostr(d, "hostname"),
        note=_ostr(d, "note"),
    )


def parse_log_line(raw: Any) -> LogLine:
    """One log message -> :class:`LogLine`.  Airflow 3 sends structured
    messages (dicts with ``event``, ``timestamp``, ``level``...); older task
    logs may be plain strings."""
    if isinstance(raw, str):
        return LogLine(timestamp=None, level=None, event=raw, extra={})
    d = _dict(raw, "log line")
    event = d.get("event")
    extra = {k: v for k, v in d.items() if k not in ("event", "timestamp", "level")}
    try:
        timestamp = _odt(d, "timestamp")
    except BadPayload:
        timestamp, extra["timestamp"] = None, d.get("timestamp")
    level = d.get("level")
    return LogLine(
        timestamp=timestamp,
        level=level if isinstance(level, str) else None,
        event=event if isinstance(event, str) else ("" if event is None else str(event)),
        extra=extra,
    )


def parse_log_page(raw: Any) -> LogPage:
    """A JSON page of a task log: ``{"content": [...], "continuation_token": ...}``."""
    d = _dict(raw, "answer")
    return LogPage(
        lines=[parse_log_line(line) for line in _list(d, "content")],
        continuation_token=_ostr(d, "continuation_token"),
    )


def parse_page(raw: Any, key: str) -> tuple[list[Any], int | None]:
    """One page of a collection: its rows under ``key``, and ``total_entries`` if given."""
    d = _dict(raw, "answer")
    return _list(d, key), _oint(d, "total_entries")


def parse_task_instances(raw: Any) -> list[TaskInstance]:
    """The ``task_instances`` of an answer (a clear, a state change)."""
    return [parse_task_instance(t) for t in _list(_dict(raw, "answer"), "task_instances")]


def parse_version(raw: Any) -> dict[str, str | None]:
    """``{"version": "3.3.2", "git_version": ...}``"""
    return {"version": _str(_dict(raw, "answer"), "version"), "git_version": _ostr(raw, "git_version")}


def parse_health(raw: Any) -> dict[str, str | None]:
    """``{"metadatabase": "healthy", ...}``: each component's status (``None`` when absent)."""
    out: dict[str, str | None] = {}
    for component, info in _dict(raw, "answer").items():
        out[component] = None if info is None else _ostr(_dict(info, component), "status")
    return out
