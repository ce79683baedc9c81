"""Failure alerts: email through the configured SMTP server and a Slack-compatible JSON webhook.

A task run that ended 'failed' (its DAG run failed, or it could not be
triggered within the retry window) is alerted once to each of the task's
email addresses and its webhook URL. The webhook URL is a secret: it is checked
against internal addresses again at send time (``console.security.outbound``)
and recorded and logged only masked (``https://host/…``). Each delivery attempt is recorded as an
``AlertDelivery`` row with its error; delivery never raises, so a dead SMTP
server or webhook cannot stop the scheduler. A run counts as alerted once it
has any delivery row, so alerts are not repeated after a restart.
"""

from __future__ import annotations

import json
import logging
import smtplib
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from flask import current_app

from console.extensions import db
from console.models import AlertDelivery, FireState, Task, TaskRun
from console.models.timeutil import utcnow
from console.security import outbound
from console.security.secrets import SecretUnreadable
from console.services import audit, settings
from console.services.webhooks import allowed_hosts, webhook_url

log = logging.getLogger(__name__)

#: Failed runs older than this are not alerted any more (e.g. after a long outage).
ALERT_HORIZON = timedelta(hours=24)
_MAX_ERROR = 500
NO_SMTP = "SMTP is not configured (set the SMTP host on the settings page)"


@dataclass(frozen=True)
class Alert:
    """What is said about one failed run, in plain text and as a Slack-style payload."""

    subject: str
    text: str
    link: str

    def webhook_payload(self) -> dict[str, Any]:
        return {
            "text": f"{self.subject}\n{self.text}",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{self.subject}*\n{self.text}"}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{self.link}|Open the task>"}]},
            ],
        }


def emails_of(task: Task) -> list[str]:
    """The task's alert addresses (stored comma-separated)."""
    return [e.strip() for e in (task.alert_emails or "").replace(";", ",").split(",") if e.strip()]


def build_alert(run: TaskRun, task: Task) -> Alert:
    base = str(current_app.config.get("CONSOLE_BASE_URL", "")).rstrip("/")
    link = f"{base}/admin/tasks/details/?id={task.id}"
    lines = [
        f"Task: {task.name} (DAG {task.dag_id} on {task.server.name})",
        f"Scheduled for: {run.scheduled_for:%Y-%m-%d %H:%M:%S} UTC ({run.kind})",
        f"DAG run id: {run.dag_run_id}",
        f"Attempts: {run.attempts}",
        f"Reason: {run.error or 'the DAG run failed'}",
        f"Task page: {link}",
    ]
    return Alert(subject=f"[Airflow Console] Task {task.name!r} failed", text="\n".join(lines), link=link)


def _short(error: BaseException | str) -> str:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return text[:_MAX_ERROR]


def send_email(recipients: list[str], alert: Alert) -> dict[str, str | None]:
    """Send one message to ``recipients`` through the SMTP settings; returns each address's
    error (None = accepted)."""
    host = settings.value("smtp_host")
    if not host:
        return dict.fromkeys(recipients, NO_SMTP)
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = settings.value("smtp_from")
    message["To"] = ", ".join(recipients)
    message.set_content(alert.text)
    port, timeout = int(settings.value("smtp_port")), float(settings.value("alert_timeout_seconds"))
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            if settings.value("smtp_starttls"):
                smtp.starttls()
            if settings.value("smtp_username"):
                smtp.login(settings.value("smtp_username"), settings.value("smtp_password") or "")
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        return {r: _short(str(exc.recipients.get(r, "refused"))) for r in recipients}
    except (smtplib.SMTPException, OSError) as exc:
        return dict.fromkeys(recipients, _short(_smtp_error(exc, host, port)))
    except SecretUnreadable as exc:
        return dict.fromkeys(recipients, _short(f"the SMTP password: {exc}"))
    return {r: (_short(str(refused[r])) if r in refused else None) for r in recipients}


def _smtp_error(exc: BaseException, host: str, port: int) -> str:
    """What went wrong talking to the mail server, naming it (the error alone can be cryptic)."""
    if isinstance(exc, socket.gaierror):
        return f"cannot find the SMTP host {host!r} ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return f"the SMTP server {host}:{port} did not answer in time"
    if isinstance(exc, ConnectionError):
        return f"cannot connect to the SMTP server {host}:{port}: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


def send_webhook(url: str, alert: Alert) -> str | None:
    """POST the alert as JSON to ``url``; None on a 2xx answer, else the error (never the URL itself).

    The URL is checked again here (its host may resolve elsewhere since it was
    saved) and the post goes to the checked address, following no redirect.
    """
    body = json.dumps(alert.webhook_payload()).encode()
    try:
        answer = outbound.post_json(
            url, body, timeout=float(settings.value("alert_timeout_seconds")), allowed_hosts=allowed_hosts()
        )
    except outbound.OutboundRefused as exc:
        return _short(f"refused: {exc}")
    except OSError as exc:
        return _short(str(exc))
    if 200 <= answer.status < 300:
        return None
    if 300 <= answer.status < 400:
        return f"the webhook answered {answer.status} {answer.reason} (redirects are not followed)"
    return f"the webhook answered {answer.status} {answer.reason}"


def deliver(run: TaskRun, *, now: datetime | None = None) -> list[AlertDelivery]:
    """Alert every target of ``run``'s task and record each attempt (the caller commits). Never raises."""
    task = run.task
    now = now or utcnow()
    deliveries: list[AlertDelivery] = []
    try:
        alert = build_alert(run, task)
        emails = emails_of(task)
        outcomes = [("email", address, error) for address, error in send_email(emails, alert).items()] if emails else []
        if task.alert_webhook_ciphertext:
            outcomes.append(_webhook_outcome(task, alert))
        elif settings.is_set("alert_default_webhook"):
            outcomes.append(_default_webhook_outcome(alert))
    except Exception as exc:  # a bug here must not stop the scheduler either
        log.exception("building or sending the alert of run %s failed", run.id)
        outcomes = [("alert", "every target", _short(exc))]
    for channel, target, error in outcomes:
        delivery = AlertDelivery(
            task_run_id=run.id,
            channel=channel,
            target=target[:500],
            succeeded=error is None,
            error=error,
            attempted_at=now,
        )
        db.session.add(delivery)
        deliveries.append(delivery)
        if error:
            log.warning("alert for run %s via %s to %s failed: %s", run.id, channel, target, error)
    return deliveries


def _webhook_outcome(task: Task, alert: Alert) -> tuple[str, str, str | None]:
    """("webhook", the masked URL, the error): the full URL is a secret, never recorded or logged."""
    try:
        url = webhook_url(task)
    except SecretUnreadable as exc:
        return ("webhook", "the stored webhook", _short(str(exc)))
    return ("webhook", outbound.masked(url), send_webhook(url, alert))


def _default_webhook_outcome(alert: Alert) -> tuple[str, str, str | None]:
    """("webhook", the masked default webhook, the error)."""
    try:
        url = settings.value("alert_default_webhook")
    except SecretUnreadable as exc:
        return ("webhook", "the default webhook", _short(str(exc)))
    return ("webhook", outbound.masked(url), send_webhook(url, alert))


def send_test_alert(recipient: str) -> list[tuple[str, str, str | None]]:
    """Send a test alert through the SMTP settings (to ``recipient``) and the default webhook;
    returns (channel, target, error or None) for each channel configured (none: empty)."""
    base = str(current_app.config.get("CONSOLE_BASE_URL", "")).rstrip("/")
    alert = Alert(
        subject="[Airflow Console] Test alert",
        text=f"A test alert, sent from the settings page for {recipient}. This channel works.",
        link=f"{base}/admin/settings/",
    )
    outcomes: list[tuple[str, str, str | None]] = []
    if settings.value("smtp_host"):
        outcomes.append(("email", recipient, send_email([recipient], alert)[recipient]))
    if settings.is_set("alert_default_webhook"):
        outcomes.append(_default_webhook_outcome(alert))
    errors = [f"{channel}: {error}" for channel, _target, error in outcomes if error is not None]
    audit.record_event(
        "alert.test",
        actor=recipient,
        object_type="setting",
        object_id="alert channels",
        detail={"channels": [channel for channel, _target, _error in outcomes]},
        error="; ".join(errors) or (None if outcomes else "no alert channel is configured"),
    )
    db.session.commit()
    return outcomes


def pending_alert_runs(*, now: datetime | None = None) -> list[TaskRun]:
    """Failed runs of the last day whose task has alert targets (or the default webhook is set)
    and that were not alerted yet."""
    now = now or utcnow()
    delivered = sa.select(AlertDelivery.id).where(AlertDelivery.task_run_id == TaskRun.id).exists()
    has_target = (
        sa.true()
        if settings.is_set("alert_default_webhook")
        else sa.or_(Task.alert_emails != "", Task.alert_webhook_ciphertext != "")
    )
    return list(
        db.session.scalars(
            sa.select(TaskRun)
            .join(Task, Task.id == TaskRun.task_id)
            .where(
                TaskRun.state == FireState.FAILED,
                TaskRun.finished_at >= now - ALERT_HORIZON,
                has_target,
                ~delivered,
            )
            .order_by(TaskRun.finished_at)
        )
    )


def send_pending_alerts(*, now: datetime | None = None) -> int:
    """Alert every run :func:`pending_alert_runs` finds, committing after each; returns how many."""
    runs = pending_alert_runs(now=now)
    for run in runs:
        deliver(run, now=now)
        db.session.commit()
    return len(runs)
