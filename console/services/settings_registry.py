"""The console settings an admin may change, as data: one :class:`Definition` each.

Each setting names the configuration key whose value in ``console.config.DefaultConfig`` is its
default (one source; ``item`` for one entry of a mapping such as ``CACHE_SECONDS``), its type,
bounds or choices, help text and group. :func:`parse` turns what a person typed into a value
or raises :class:`InvalidSetting` with a message for them (``console.services.setting_types``);
the settings page and the CLI both use it (through ``console.services.settings``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from console.config import DefaultConfig

TYPES = ("int", "float", "bool", "str", "choice", "timezone", "list", "secret")


class InvalidSetting(ValueError):
    """A value a setting refuses; the message says what would be accepted."""


@dataclass(frozen=True)
class Definition:
    """One setting: ``name`` (the stored row and the form field), its type and rules."""

    name: str
    label: str
    group: str
    type: str
    config_key: str
    help: str
    item: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: Mapping[str, str] | None = None
    unit: str = ""
    check: str | None = None  # an extra rule for str/list values: "host", "email", "webhook", "allowed_host"

    @property
    def default(self) -> Any:
        value = getattr(DefaultConfig, self.config_key)
        return value[self.item] if self.item is not None else value

    @property
    def secret(self) -> bool:
        return self.type == "secret"


def _cache(kind: str, label: str, help_text: str) -> Definition:
    return Definition(
        f"cache_seconds_{kind}",
        label,
        "Airflow reads (cache lifetimes)",
        "int",
        "CACHE_SECONDS",
        help_text + " 0 keeps nothing.",
        item=kind,
        minimum=0,
        maximum=3600,
        unit="seconds",
    )


REGISTRY: tuple[Definition, ...] = (
    Definition(
        "default_timezone",
        "Default time zone for new tasks",
        "Tasks",
        "timezone",
        "TASK_DEFAULT_TIMEZONE",
        "The time zone a new task's form starts with (an IANA name such as Europe/Paris).",
    ),
    _cache("dag_list", "DAG lists", "How long a server's DAG list and the home page's counts are kept."),
    _cache("dag_status", "Server status", "How long 'does this server answer' is kept, for the banners."),
    _cache("dag_detail", "DAG details", "How long one DAG's details are kept (a console write drops them)."),
    _cache("runs", "Runs", "How long one DAG's runs and a run's task instances are kept."),
    _cache("log", "Finished logs", "How long a finished try's parsed log is kept."),
    _cache("health", "Server health", "How long a server's version and component health are kept."),
    _cache(
        "import_errors", "Import errors", "How long a server's DAG import errors are kept, for the Import errors page."
    ),
    Definition(
        "dashboard_refresh_seconds",
        "Dashboard refresh interval",
        "Screens",
        "int",
        "DASHBOARD_REFRESH_SECONDS",
        "How often the open home dashboard refreshes itself.",
        minimum=5,
        maximum=3600,
        unit="seconds",
    ),
    Definition(
        "log_page_size",
        "Log page size",
        "Screens",
        "int",
        "LOG_PAGE_SIZE",
        "Log lines per page in the log viewer.",
        minimum=50,
        maximum=2000,
        unit="lines",
    ),
    Definition(
        "log_max_lines",
        "Log size cap (lines)",
        "Screens",
        "int",
        "LOG_MAX_LINES",
        "The viewer keeps at most this many lines of one log and says it was cut; the download has it all.",
        minimum=1000,
        maximum=10_000_000,
        unit="lines",
    ),
    Definition(
        "log_max_bytes",
        "Log size cap (bytes)",
        "Screens",
        "int",
        "LOG_MAX_BYTES",
        "The viewer keeps at most this many bytes of one log; the download has it all.",
        minimum=64 * 1024,
        maximum=1024 * 1024 * 1024,
        unit="bytes",
    ),
    Definition(
        "session_lifetime_seconds",
        "Session lifetime",
        "Sign-in",
        "int",
        "PERMANENT_SESSION_LIFETIME",
        "A sign-in ends this long after the person's last request.",
        minimum=300,
        maximum=30 * 24 * 3600,
        unit="seconds",
    ),
    Definition(
        "login_rate_limit_per_minute",
        "Attempts per address and minute",
        "Sign-in",
        "int",
        "LOGIN_RATE_LIMIT_PER_MINUTE",
        "More password attempts than this from one address in a minute are refused.",
        minimum=1,
        maximum=1000,
    ),
    Definition(
        "login_max_failures",
        "Failures before the delay",
        "Sign-in",
        "int",
        "LOGIN_MAX_FAILURES",
        "Failed attempts in a row on one account before it must wait.",
        minimum=1,
        maximum=100,
    ),
    Definition(
        "login_failure_window_seconds",
        "Failure memory",
        "Sign-in",
        "int",
        "LOGIN_FAILURE_WINDOW_SECONDS",
        "Failures older than this are forgotten.",
        minimum=60,
        maximum=7 * 24 * 3600,
        unit="seconds",
    ),
    Definition(
        "login_delay_base_seconds",
        "First delay",
        "Sign-in",
        "int",
        "LOGIN_DELAY_BASE_SECONDS",
        "The first wait after too many failures; it doubles with each further failure.",
        minimum=0,
        maximum=3600,
        unit="seconds",
    ),
    Definition(
        "login_delay_max_seconds",
        "Longest delay",
        "Sign-in",
        "int",
        "LOGIN_DELAY_MAX_SECONDS",
        "The longest a stranger can make anybody wait.",
        minimum=0,
        maximum=24 * 3600,
        unit="seconds",
    ),
    Definition(
        "login_known_address_days",
        "Known address memory",
        "Sign-in",
        "int",
        "LOGIN_KNOWN_ADDRESS_DAYS",
        "From an address it signed in from within this many days, an account counts only that address's failures.",
        minimum=0,
        maximum=365,
        unit="days",
    ),
    Definition(
        "audit_retention_days",
        "Audit retention",
        "Audit",
        "int",
        "AUDIT_RETENTION_DAYS",
        "Audit records older than this are purged by the scheduler (the purge is itself audited). "
        "0 keeps them forever.",
        minimum=0,
        maximum=36500,
        unit="days",
    ),
    Definition(
        "smtp_host",
        "SMTP host",
        "Alerts",
        "str",
        "SMTP_HOST",
        "The mail server alert emails go through; empty sends no email.",
        check="host",
    ),
    Definition(
        "smtp_port", "SMTP port", "Alerts", "int", "SMTP_PORT", "The mail server's port.", minimum=1, maximum=65535
    ),
    Definition(
        "smtp_starttls", "SMTP STARTTLS", "Alerts", "bool", "SMTP_STARTTLS", "Upgrade the connection with STARTTLS."
    ),
    Definition(
        "smtp_username", "SMTP user", "Alerts", "str", "SMTP_USERNAME", "Sign in to the mail server as this user."
    ),
    Definition(
        "smtp_password",
        "SMTP password",
        "Alerts",
        "secret",
        "SMTP_PASSWORD",
        "Write-only: stored encrypted, never shown.",
    ),
    Definition(
        "smtp_from",
        "Sender",
        "Alerts",
        "str",
        "SMTP_FROM",
        "The From address of alert emails.",
        check="email",
    ),
    Definition(
        "alert_timeout_seconds",
        "Alert timeout",
        "Alerts",
        "float",
        "ALERT_TIMEOUT_SECONDS",
        "How long one email or webhook delivery may take.",
        minimum=0.5,
        maximum=60,
        unit="seconds",
    ),
    Definition(
        "alert_default_webhook",
        "Default webhook",
        "Alerts",
        "secret",
        "ALERT_DEFAULT_WEBHOOK",
        "Receives the alert of every failed task without a webhook of its own (Slack-compatible JSON). "
        "Write-only: stored encrypted, never shown.",
        check="webhook",
    ),
    Definition(
        "webhook_allowed_hosts",
        "Webhook allow-list",
        "Alerts",
        "list",
        "WEBHOOK_ALLOWED_HOSTS",
        "Internal hosts webhooks may reach: one host name or CIDR (e.g. 10.20.0.0/16) per line.",
        check="allowed_host",
    ),
)
BY_NAME: dict[str, Definition] = {d.name: d for d in REGISTRY}


def definition(name: str) -> Definition:
    try:
        return BY_NAME[name]
    except KeyError:
        raise InvalidSetting(f"There is no setting {name!r}.") from None


def groups() -> dict[str, list[Definition]]:
    """The settings by group, in registry order."""
    out: dict[str, list[Definition]] = {}
    for d in REGISTRY:
        out.setdefault(d.group, []).append(d)
    return out
