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
from console.services.webhooks import allowed_hosts, webhook_url

log = logging.getLogger(__name__)

#: Failed runs older than this are not alerted any more (e.g. after a long outage).
ALERT_HORIZON = timedelta(hours=24)
_MAX_ERROR = 500


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
    """Send one message to ``recipients``; returns each address's error (None = accepted)."""
    config = current_app.config
    if not config.get("SMTP_HOST"):
        return dict.fromkeys(recipients, "SMTP is not configured (set SMTP_HOST)")
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = config["SMTP_FROM"]
    message["To"] = ", ".join(recipients)
    message.set_content(alert.text)
    try:
        with smtplib.SMTP(
            config["SMTP_HOST"], int(config["SMTP_PORT"]), timeout=float(config["ALERT_TIMEOUT_SECONDS"])
        ) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls()
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        return {r: _short(str(exc.recipients.get(r, "refused"))) for r in recipients}
    except (smtplib.SMTPException, OSError) as exc:
        return dict.fromkeys(recipients, _short(exc))
    return {r: (_short(str(refused[r])) if r in refused else None) for r in recipients}


def send_webhook(url: str, alert: Alert) -> str | None:
    """POST the alert as JSON to ``url``; None on a 2xx answer, else the error (never the URL itself).

    The URL is checked again here (its host may resolve elsewhere since it was
    saved) and the post goes to the checked address, following no redirect.
    """
    body = json.dumps(alert.webhook_payload()).encode()
    try:
        answer = outbound.post_json(
            url, body, timeout=float(current_app.config["ALERT_TIMEOUT_SECONDS"]), allowed_hosts=allowed_hosts()
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


def pending_alert_runs(*, now: datetime | None = None) -> list[TaskRun]:
    """Failed runs of the last day whose task has alert targets and that were not alerted yet."""
    now = now or utcnow()
    delivered = sa.select(AlertDelivery.id).where(AlertDelivery.task_run_id == TaskRun.id).exists()
    return list(
        db.session.scalars(
            sa.select(TaskRun)
            .join(Task, Task.id == TaskRun.task_id)
            .where(
                TaskRun.state == FireState.FAILED,
                TaskRun.finished_at >= now - ALERT_HORIZON,
                sa.or_(Task.alert_emails != "", Task.alert_webhook_ciphertext != ""),
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
