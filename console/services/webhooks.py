"""A task's alert webhook URL: checked, stored encrypted, shown masked.

The URL is a secret (Slack-style URLs carry their token in the path), so it
is encrypted at rest with the key of ``console.security.secrets``, never
versioned, logged or rendered in full except to admins, and checked by
``console.security.outbound`` when saved and again when an alert is sent.
"""

from __future__ import annotations

from console.models import Task
from console.models.timeutil import utcnow
from console.security import outbound
from console.security.secrets import SecretUnreadable, decrypt, encrypt
from console.services.errors import ServiceError
from console.services.settings import value


def allowed_hosts() -> list[str]:
    """The admin's allow-list of internal webhook hosts (the ``webhook_allowed_hosts`` setting)."""
    return list(value("webhook_allowed_hosts") or [])


def parse_webhook_url(url: str | None, allowed: list[str] | None = None) -> str:
    """An http(s) URL to a host that may be contacted (the allow-list ``allowed``, by default the
    current one), or empty for no webhook; else ServiceError."""
    try:
        return outbound.check_webhook_url(url, allowed_hosts=allowed_hosts() if allowed is None else allowed)
    except outbound.OutboundRefused as exc:
        raise ServiceError(str(exc)) from None


def webhook_url(task: Task) -> str:
    """The task's webhook URL in full ("" for none); raises ``SecretUnreadable`` if the key changed."""
    return decrypt(task.alert_webhook_ciphertext) if task.alert_webhook_ciphertext else ""


def set_webhook(task: Task, url: str) -> bool:
    """Store ``url`` (already parsed; "" removes the webhook). Returns whether it changed."""
    try:
        current = webhook_url(task)
    except SecretUnreadable:
        current = None
    if url == current:
        return False
    task.alert_webhook_ciphertext = encrypt(url) if url else ""
    task.alert_webhook_changed_at = utcnow()
    return True


def masked_webhook(task: Task) -> str:
    """``https://host/…`` for the task's webhook, "" for none, a notice if it cannot be read."""
    try:
        return outbound.masked(webhook_url(task)) if task.alert_webhook_ciphertext else ""
    except SecretUnreadable:
        return "(unreadable: the secret key changed; enter the webhook again)"
