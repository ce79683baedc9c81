"""Failure alerts: email through the configured SMTP server and a Slack-compatible JSON webhook.

A task run that ended 'failed' (its DAG run failed, or it could not be
triggered within the retry window) is alerted once to each of the task's
email addresses and its webhook URL. Each delivery attempt is recorded as an
``AlertDelivery`` row with its error; delivery never raises, so a dead SMTP
server or webhook cannot stop the scheduler. A run counts as alerted once it
has any delivery row, so alerts are not repeated after a restart.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from flask import current_app

from console.extensions import db
from console.models import AlertDelivery, Task, TaskRun
from console.models.timeutil import utcnow

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
    """POST the alert as JSON to ``url``; None on a 2xx answer, else the error."""
    body = json.dumps(alert.webhook_payload()).encode()
    if not url.startswith(("http://", "https://")):
        return "the webhook URL must start with http:// or https://"
    request = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
        url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "airflow-console"}
    )
    timeout = float(current_app.config["ALERT_TIMEOUT_SECONDS"])
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) only, checked above)
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"the webhook answered {exc.code} {exc.reason}"
    except (TimeoutError, urllib.error.URLError, OSError, ValueError) as exc:
        return _short(getattr(exc, "reason", exc) if isinstance(exc, urllib.error.URLError) else exc)
    return None if 200 <= status < 300 else f"the webhook answered {status}"


def deliver(run: TaskRun, *, now: datetime | None = None) -> list[AlertDelivery]:
    """Alert every target of ``run``'s task and record each attempt (the caller commits). Never raises."""
    task = run.task
    now = now or utcnow()
    deliveries: list[AlertDelivery] = []
    try:
        alert = build_alert(run, task)
        emails = emails_of(task)
        outcomes = [("email", address, error) for address, error in send_email(emails, alert).items()] if emails else []
        if task.alert_webhook_url:
            outcomes.append(("webhook", task.alert_webhook_url, send_webhook(task.alert_webhook_url, alert)))
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


def pending_alert_runs(*, now: datetime | None = None) -> list[TaskRun]:
    """Failed runs of the last day whose task has alert targets and that were not alerted yet."""
    now = now or utcnow()
    delivered = sa.select(AlertDelivery.id).where(AlertDelivery.task_run_id == TaskRun.id).exists()
    return list(
        db.session.scalars(
            sa.select(TaskRun)
            .join(Task, Task.id == TaskRun.task_id)
            .where(
                TaskRun.state == "failed",
                TaskRun.finished_at >= now - ALERT_HORIZON,
                sa.or_(Task.alert_emails != "", Task.alert_webhook_url != ""),
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
