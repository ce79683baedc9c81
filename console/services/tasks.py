"""Tasks: validate, create, edit, enable, run now, and read their history.

Shared by the Tasks screen, the CLI and the scheduler. Functions that change
rows leave the commit to the caller (one unit of work = one audit
transaction), except :func:`run_now`, which must commit its record before it
calls Airflow. Invalid input raises :class:`TaskValidationError` with one
message per field, so a form can show each next to its field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from console.extensions import db
from console.models import MISFIRE_POLICIES, AirflowServer, FireState, Task, TaskRun
from console.services import cron, fires, settings, webhooks
from console.services.errors import ServiceError
from console.services.json_input import JsonInputError, parse_json_input

FIELDS = (
    "name",
    "description",
    "server_id",
    "dag_id",
    "conf_json",
    "cron",
    "timezone",
    "enabled",
    "misfire_policy",
    "retry_window_seconds",
    "retry_backoff_seconds",
    "alert_emails",
    "alert_webhook_url",
)
DEFAULTS: dict[str, Any] = {
    "description": "",
    "conf_json": "{}",
    "timezone": "UTC",
    "enabled": True,
    "misfire_policy": "skip",
    "retry_window_seconds": 900,
    "retry_backoff_seconds": 15,
    "alert_emails": "",
    "alert_webhook_url": "",
}
WEBHOOK = "alert_webhook_url"  # write-only: stored encrypted, see console.services.webhooks
_DAG_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,250}$")


class TaskValidationError(ServiceError):
    """Some fields are invalid; ``errors`` maps each field name to a message for a person."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


def parse_conf(text: str | None) -> str:
    """``text`` as pretty JSON if it is a JSON object (empty means ``{}``); else ServiceError."""
    try:
        value = parse_json_input(text or "{}")
    except JsonInputError as exc:
        raise ServiceError(str(exc)) from None
    if not isinstance(value, dict):
        raise ServiceError('The conf must be a JSON object, e.g. {"key": "value"}.')
    return json.dumps(value, indent=2) if value else "{}"


def parse_emails(text: str | None) -> str:
    """Comma, semicolon or whitespace separated addresses, checked and joined with ', '."""
    found = [part for part in re.split(r"[\s,;]+", text or "") if part]
    normalized = []
    for address in found:
        try:
            normalized.append(validate_email(address, check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            raise ServiceError(f"{address!r} is not a valid email address: {exc}") from None
    return ", ".join(dict.fromkeys(normalized))


def _int_in(value: Any, low: int, high: int, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ServiceError(f"{what} must be a whole number.") from None
    if not low <= number <= high:
        raise ServiceError(f"{what} must be between {low} and {high}.")
    return number


def _clean_name(name: Any, task: Task | None) -> str:
    name = str(name or "").strip()
    if not name or len(name) > 120:
        raise ServiceError("Give the task a name of 1 to 120 characters.")
    clash = db.session.scalar(sa.select(Task.id).where(Task.name == name))
    if clash is not None and (task is None or clash != task.id):
        raise ServiceError(f"A task named {name!r} exists already.")
    return name


def _clean_server(server_id: Any) -> int:
    try:
        server = db.session.get(AirflowServer, int(server_id))
    except (TypeError, ValueError):
        server = None
    if server is None:
        raise ServiceError("Choose an Airflow server.")
    if not server.enabled:
        raise ServiceError(f"The server {server.name!r} is disabled.")
    return server.id


def _clean_dag(dag_id: Any) -> str:
    dag_id = str(dag_id or "").strip()
    if not _DAG_ID_RE.match(dag_id):
        raise ServiceError("Choose a DAG (letters, digits, '_', '.', '-').")
    return dag_id


_CLEANERS: dict[str, Callable[[Any], Any]] = {
    "description": lambda v: str(v or "").strip(),
    "server_id": _clean_server,
    "dag_id": _clean_dag,
    "conf_json": parse_conf,
    "enabled": bool,
    "misfire_policy": lambda v: _choice(v, MISFIRE_POLICIES, "Choose a misfire policy."),
    "retry_window_seconds": lambda v: _int_in(v, 0, 7 * 24 * 3600, "The retry window"),
    "retry_backoff_seconds": lambda v: _int_in(v, 1, 3600, "The retry backoff"),
    "alert_emails": parse_emails,
}


def _choice(value: Any, choices: Mapping[str, str], message: str) -> str:
    if value not in choices:
        raise ServiceError(message)
    return str(value)


def clean(values: Mapping[str, Any], *, task: Task | None = None, check_dag: bool = True) -> dict[str, Any]:
    """Validate and normalise task fields (missing ones: the task's, or the defaults).

    Raises :class:`TaskValidationError` listing every invalid field. With
    ``check_dag`` the DAG is looked up on its server when the server answers
    (an unreachable server is no reason to refuse a schedule). The webhook URL
    is write-only: it is checked and returned only when ``values`` holds it
    (or for a new task), so leaving it out keeps the stored one.
    """
    current = (
        {f: getattr(task, f) for f in FIELDS if f != WEBHOOK}
        if task is not None
        else {**DEFAULTS, "timezone": settings.value("default_timezone")}
    )
    merged = {**current, **{k: v for k, v in values.items() if k in FIELDS}}
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    try:
        cleaned["name"] = _clean_name(merged.get("name"), task)
    except ServiceError as exc:
        errors["name"] = str(exc)
    for field, cleaner in _CLEANERS.items():
        try:
            cleaned[field] = cleaner(merged.get(field))
        except ServiceError as exc:
            errors[field] = str(exc)
    if task is None or WEBHOOK in values:
        try:
            cleaned[WEBHOOK] = webhooks.parse_webhook_url(merged.get(WEBHOOK))
        except ServiceError as exc:
            errors[WEBHOOK] = str(exc)
    try:
        cleaned["timezone"] = cron.zone(str(merged.get("timezone") or "")).key
    except cron.CronError as exc:
        errors["timezone"] = str(exc)
    try:
        cleaned["cron"] = cron.parse(str(merged.get("cron") or ""), cleaned.get("timezone", "UTC")).expression
    except cron.CronError as exc:
        errors["cron"] = str(exc)
    if check_dag and not errors.keys() & {"server_id", "dag_id"}:
        changed = task is None or (task.server_id, task.dag_id) != (cleaned["server_id"], cleaned["dag_id"])
        message = _missing_dag(cleaned["server_id"], cleaned["dag_id"]) if changed else None
        if message:
            errors["dag_id"] = message
    if errors:
        raise TaskValidationError(errors)
    return cleaned


def _missing_dag(server_id: int, dag_id: str) -> str | None:
    """Why ``dag_id`` is refused on the server, or None (exists, or the server cannot say now)."""
    from console.airflow.errors import AirflowError, AirflowNotFound
    from console.airflow.registry import client_for
    from console.security.secrets import SecretUnreadable

    server = db.session.get(AirflowServer, server_id)
    try:
        client_for(server).get_dag(dag_id)  # type: ignore[arg-type]
    except AirflowNotFound:
        return f"The server {server.name!r} has no DAG {dag_id!r}."  # type: ignore[union-attr]
    except (AirflowError, SecretUnreadable):
        return None
    return None


def create_task(values: Mapping[str, Any], *, check_dag: bool = True) -> Task:
    """Create a task from ``values`` (see :data:`FIELDS`); the caller commits."""
    return save_task(clean(values, check_dag=check_dag))


def update_task(task: Task, values: Mapping[str, Any], *, check_dag: bool = True) -> Task:
    """Change ``task``'s fields given in ``values``; the caller commits."""
    return save_task(clean(values, task=task, check_dag=check_dag), task)


def save_task(cleaned: Mapping[str, Any], task: Task | None = None) -> Task:
    """Create a task from values :func:`clean` returned, or change ``task`` (the one they were
    cleaned for) to them; no further checks and no call to Airflow. The caller commits."""
    values = dict(cleaned)
    if task is None:
        url = values.pop(WEBHOOK, "")
        task = Task(**values)
        webhooks.set_webhook(task, url)
        db.session.add(task)
        db.session.flush()
        return task
    for field, value in values.items():
        if field == WEBHOOK:
            webhooks.set_webhook(task, value)
        elif getattr(task, field) != value:
            setattr(task, field, value)
    return task


def set_enabled(tasks: Iterable[Task], enabled: bool) -> list[Task]:
    """Enable or disable ``tasks``; returns those that changed. The caller commits."""
    changed = [t for t in tasks if t.enabled != enabled]
    for task in changed:
        task.enabled = enabled
    return changed


def run_now(task: Task, *, actor: str) -> TaskRun:
    """Record a manual run of ``task`` requested by ``actor`` and trigger it at once through the fire path.

    Commits twice: the record (so a crash cannot lose it), then the outcome
    with its audit row naming ``actor``. The returned run is 'triggered',
    'failed' with the reason, or 'pending' when Airflow was unavailable --
    the scheduler then retries it with backoff (those attempts are the
    scheduler's; the run keeps ``requested_by``).
    """
    if not task.server.enabled:
        raise ServiceError(f"The server {task.server.name!r} is disabled.")
    run = fires.record_manual(task, requested_by=actor)
    db.session.commit()
    for claimed in fires.load_attempts([run.id]):
        fires.attempt(claimed, fires.client_for(task.server), actor=actor)
    db.session.refresh(run)
    return run


@dataclass(frozen=True)
class RunStats:
    """Outcome counts of a task's latest finished runs (missed fires excluded)."""

    finished: int
    succeeded: int
    failed: int

    @property
    def rate(self) -> float | None:
        return self.succeeded / self.finished if self.finished else None


def history(task_id: int, *, limit: int = 50) -> list[TaskRun]:
    """The task's latest runs, newest scheduled time first."""
    return list(
        db.session.scalars(
            sa.select(TaskRun)
            .where(TaskRun.task_id == task_id)
            .order_by(TaskRun.scheduled_for.desc(), TaskRun.id.desc())
            .limit(limit)
        )
    )


def run_stats(task_id: int, *, last: int = 100) -> RunStats:
    """Success rate over the last ``last`` finished (success or failed) runs."""
    states = db.session.scalars(
        sa.select(TaskRun.state)
        .where(TaskRun.task_id == task_id, TaskRun.state.in_(sorted(FireState.FINAL)))
        .order_by(TaskRun.scheduled_for.desc())
        .limit(last)
    ).all()
    succeeded = sum(1 for s in states if s == FireState.SUCCESS)
    return RunStats(finished=len(states), succeeded=succeeded, failed=len(states) - succeeded)


def last_runs(task_ids: Iterable[int]) -> dict[int, TaskRun]:
    """Each task's latest run that is not a missed fire, for the task list."""
    ids = list(task_ids)
    if not ids:
        return {}
    latest = (
        sa.select(TaskRun.task_id, sa.func.max(TaskRun.scheduled_for).label("at"))
        .where(TaskRun.task_id.in_(ids), TaskRun.state != FireState.MISSED)
        .group_by(TaskRun.task_id)
        .subquery()
    )
    runs = db.session.scalars(
        sa.select(TaskRun).join(
            latest, sa.and_(TaskRun.task_id == latest.c.task_id, TaskRun.scheduled_for == latest.c.at)
        )
    )
    return {run.task_id: run for run in runs}
