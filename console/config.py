"""Configuration: safe defaults, then ``instance/config.py``, then ``CONSOLE_*`` variables.

``load_config`` applies the layers in that order and ``validate_config`` fails
fast with a message a person can act on. Nothing here reads the environment
at import time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Config, Flask

PLACEHOLDER_SECRET = "change-me"


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says what to change."""


class DefaultConfig:
    """Defaults that are safe in production; development loosens them explicitly."""

    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # set from the instance path when unset
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}
    SQLITE_BUSY_TIMEOUT_MS = 5000

    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # The sign-in form offers no "remember me"; the new name also stops reading the year-long
    # ``remember_token`` cookies that earlier versions issued.
    REMEMBER_COOKIE_NAME = "console_remember"
    REMEMBER_COOKIE_DURATION = 12 * 3600
    PERMANENT_SESSION_LIFETIME = 12 * 3600  # the session cookie's signature expires after this
    TRUSTED_PROXY_COUNT = 0  # reverse proxies in front of the console whose X-Forwarded-* to trust

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = 8 * 3600

    SECURITY_PASSWORD_HASH = "bcrypt"
    SECURITY_PASSWORD_SALT: str | None = None
    SECURITY_PASSWORD_LENGTH_MIN = 12
    SECURITY_TRACKABLE = True
    SECURITY_CHANGEABLE = True
    SECURITY_SEND_PASSWORD_CHANGE_EMAIL = False
    SECURITY_REGISTERABLE = False
    SECURITY_RECOVERABLE = False
    SECURITY_POST_LOGIN_VIEW = "/admin/"
    SECURITY_POST_LOGOUT_VIEW = "/login"
    SECURITY_POST_CHANGE_VIEW = "/admin/"
    SECURITY_LOGOUT_METHODS = ["POST"]
    SECURITY_RETURN_GENERIC_RESPONSES = True
    SECURITY_EMAIL_VALIDATOR_ARGS = {"check_deliverability": False}  # no DNS lookups
    SECURITY_CLI_USERS_NAME = False  # our own `users` group replaces it
    SECURITY_CLI_ROLES_NAME = False
    SECURITY_MSG_GENERIC_AUTHN_FAILED = ("Invalid email or password.", "error")
    SECURITY_API_ENABLED_METHODS = ["session"]  # no ?auth_token= / Authentication-Token
    SECURITY_DEFAULT_REMEMBER_ME = False

    # Password guessing limits (console/security/throttle.py), for sign-in, /verify and /change.
    LOGIN_RATE_LIMIT_PER_MINUTE = 20  # attempts per client address
    LOGIN_MAX_FAILURES = 5  # failures in a row before the account's delay starts
    LOGIN_FAILURE_WINDOW_SECONDS = 900  # older failures are forgotten
    LOGIN_DELAY_BASE_SECONDS = 30  # the first delay; it doubles with each further failure
    LOGIN_DELAY_MAX_SECONDS = 300  # the longest a stranger can make anybody wait
    LOGIN_KNOWN_ADDRESS_DAYS = 30  # from an address it signed in from, an account counts only that address

    # The first admin `manage.py setup` creates (the Docker image runs it at start): the
    # password comes from a mounted secret file (CONSOLE_ADMIN_PASSWORD_FILE) or
    # CONSOLE_ADMIN_PASSWORD, and is never printed.
    ADMIN_EMAIL = "admin@example.com"
    ADMIN_PASSWORD_FILE: str | None = None
    ADMIN_PASSWORD: str | None = None

    CACHE_TYPE = "SimpleCache"
    CACHE_DEFAULT_TIMEOUT = 30
    # Redis shared by every process (cache, locks); CACHE_REDIS_URL alone points only the cache at it.
    REDIS_URL: str | None = None
    # Reads from Airflow (console/services/read_cache.py): how long each kind of answer is kept,
    # in seconds (0: not cached); the defaults of the ``cache_seconds_<kind>`` settings.
    # ``read_cache.lifetime(kind)`` is the only reader.
    CACHE_SECONDS: dict[str, int] = {
        "dag_list": 10,  # a server's window for one DAG-list query, the home page's counts
        "dag_status": 30,  # whether a server answers, for the banners of single-server screens
        "dag_detail": 30,  # one DAG's details (a console write to the DAG drops them)
        "runs": 10,  # one DAG's runs and a run's task instances
        "log": 120,  # a finished try's parsed log
        "health": 15,  # a server's version and component health
        "import_errors": 15,  # a server's import errors, for the Import errors page
    }
    CACHE_FAILURE_SECONDS = 3  # a server's failure is kept this long, so a down server recovers fast
    CACHE_LOCK_SECONDS = 10.0  # lease of the cross-process lock of one cache miss (Redis only)
    CACHE_WAIT_SECONDS = 10.0  # how long a request waits for another's call of the same key

    # Airflow: the local sandbox runner and how the console calls servers.
    AIRFLOW_SANDBOX_ROOT: str | None = None  # default: <project>/.sandbox
    AIRFLOW_SANDBOX_DAGS_FOLDER: str | None = None  # default: <project>/examples/dags
    AIRFLOW_SANDBOX_PORT = 28080
    AIRFLOW_DEFAULT_CONNECT_TIMEOUT = 3.0  # a new server's timeouts; each server keeps its own
    AIRFLOW_DEFAULT_READ_TIMEOUT = 10.0
    AIRFLOW_RETRY_ATTEMPTS = 3  # tries of an idempotent call (GETs, the token) on connection errors and 429/5xx
    AIRFLOW_RETRY_BACKOFF_SECONDS = 0.2  # wait before the first retry, doubling after each
    AIRFLOW_LOG_READ_TIMEOUT = 60.0  # big logs: Airflow sends nothing until it has read the file
    DAGS_FANOUT_DEADLINE_SECONDS = 20.0
    DAGS_STATUS_DEADLINE_SECONDS = 3.0
    # The home dashboard: how often the open page refreshes itself, how many recent runs per
    # server feed its charts (docs/PERFORMANCE.md), and how long it waits for a server.
    DASHBOARD_REFRESH_SECONDS = 30
    DASHBOARD_MAX_RUNS = 500
    DASHBOARD_DEADLINE_SECONDS = 10.0
    # Log viewer memory (per process): parsed logs are cached within a byte budget, one log
    # holds at most LOG_MAX_LINES lines / LOG_MAX_BYTES bytes (the download has it all), and
    # uncached reads are limited per user and per server (waiting LOG_READ_WAIT_SECONDS for a slot).
    LOG_CACHE_MAX_BYTES = 64 * 1024 * 1024
    LOG_SHARED_MAX_BYTES = 4 * 1024 * 1024  # with Redis, logs up to this size are shared by every process
    LOG_MAX_LINES = 100_000
    LOG_MAX_BYTES = 32 * 1024 * 1024
    LOG_READS_PER_USER = 2
    LOG_READS_PER_SERVER = 4
    LOG_READ_WAIT_SECONDS = 1.0

    # Scheduler and alerts.
    SCHEDULER_STALE_AFTER_SECONDS = 90
    SCHEDULER_POLL_SECONDS = 2.0
    SCHEDULER_LEASE_SECONDS = 30
    SCHEDULER_HEARTBEAT_SECONDS = 5.0
    SCHEDULER_MONITOR_SECONDS = 5.0
    SCHEDULER_MISFIRE_GRACE_SECONDS = 60  # a fire this late is still fired, whatever the misfire policy
    SCHEDULER_MAX_MISSED_RECORDED = 100  # per task, after a long outage
    # The audit trail: the scheduler's leader deletes audit events (and Continuum versions and
    # transactions) older than AUDIT_RETENTION_DAYS (a setting, below), once a day
    # (console/services/audit_retention.py).
    AUDIT_PURGE_EVERY_SECONDS = 86400
    AUDIT_PURGE_BATCH = 5000  # rows deleted per statement and commit
    SMTP_HOST: str | None = None
    SMTP_PORT = 25
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_STARTTLS = False
    SMTP_FROM = "airflow-console@localhost"
    ALERT_TIMEOUT_SECONDS = 5.0
    # Receives the alert of every failed task that has no webhook of its own (empty: none).
    ALERT_DEFAULT_WEBHOOK: str | None = None
    # Alert webhooks may not reach internal addresses (loopback, private, link-local, metadata...)
    # unless their host name or a CIDR holding their address is listed here, e.g. ["10.20.0.0/16"].
    WEBHOOK_ALLOWED_HOSTS: list[str] = []

    # Background jobs (bulk actions): Huey with its SQLite file in the instance folder, or Redis
    # when REDIS_URL is set; `manage.py worker` runs them.
    JOBS_QUEUE_PATH: str | None = None  # default: <instance>/jobs.db
    JOBS_QUEUE_NAME = "console-jobs"  # with Redis, the queue's key names (one per console sharing a Redis)
    JOBS_IMMEDIATE = False  # run each job inside the request that starts it (tests only)
    JOBS_WORKERS = 2  # jobs one worker process runs at once (threads)
    JOBS_MAX_ITEMS = 5000  # DAGs one bulk action may select
    JOBS_STALE_AFTER_SECONDS = 120  # a running job whose worker is silent this long is resumed
    JOBS_MAX_ATTEMPTS = 3  # a job resumed this many times ends failed instead
    JOBS_HEARTBEAT_SECONDS = 10.0  # how often a worker says it is alive (the dashboard shows it)

    # The task-instance page and the cross-server task-instance list (docs/PERFORMANCE.md):
    # XComs whose values the page reads (one call each), the characters of a value it shows
    # (the rest is a download), and how many selected task instances a bulk clear does inline
    # (more: a background job).
    TASK_PAGE_MAX_XCOMS = 10
    XCOM_PREVIEW_CHARS = 2000
    TI_CLEAR_INLINE_MAX = 5

    CONSOLE_BASE_URL = "http://127.0.0.1:5000"

    # Console settings (console/services/settings_registry.py): these defaults, changed by an admin
    # on the settings page unless the deployment sets the key here, in instance/config.py or CONSOLE_*.
    TASK_DEFAULT_TIMEZONE = "UTC"  # the time zone a new task's form starts with
    LOG_PAGE_SIZE = 500  # log lines per page in the log viewer
    AUDIT_RETENTION_DAYS = 365  # audit rows older than this are purged by the scheduler (0: kept forever)
    SETTINGS_CHECK_SECONDS = 2.0  # a long-running process looks for changed settings at most this often

    # Observability: /metrics answers admins, and without sign-in the addresses listed here
    # (CIDRs or single addresses, e.g. ["10.0.5.0/24"], where Prometheus scrapes from).
    METRICS_ALLOWED_ADDRESSES: list[str] = []
    LOG_FORMAT = "text"  # or "json": one JSON object per line, one line per request
    LOG_LEVEL = "INFO"


ENV_ALIASES = {"DATABASE_URL": "SQLALCHEMY_DATABASE_URI"}
#: Settings that were replaced, and by what (set in an old ``instance/config.py``, they would be ignored).
REPLACED = {
    "DAGS_LIST_CACHE_SECONDS": 'CACHE_SECONDS["dag_list"]',
    "DAGS_STATUS_CACHE_SECONDS": 'CACHE_SECONDS["dag_status"]',
    "DAGS_LOG_CACHE_SECONDS": 'CACHE_SECONDS["log"]',
}


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"expected true or false, got {raw!r}")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, (list, dict)):
        return json.loads(raw)
    return raw


def apply_environment(app: Flask, environ: Mapping[str, str]) -> set[str]:
    """Copy every ``CONSOLE_<KEY>`` variable onto ``app.config[<KEY>]``, typed like its default;
    returns the keys set."""
    keys: set[str] = set()
    for name, raw in environ.items():
        if not name.startswith("CONSOLE_") or name.startswith("CONSOLE_TEST_"):
            continue
        key = ENV_ALIASES.get(name[len("CONSOLE_") :], name[len("CONSOLE_") :])
        try:
            app.config[key] = _coerce(raw, app.config.get(key))
        except (ValueError, ConfigError) as exc:
            raise ConfigError(f"{name}: {exc}") from None
        keys.add(key)
    return keys


def _pyfile_keys(app: Flask, filename: str) -> set[str]:
    """The keys ``instance/<filename>`` sets (read again into a scratch ``Config``)."""
    scratch = Config(app.instance_path)
    scratch.from_pyfile(filename, silent=True)
    return set(scratch)


def load_config(app: Flask, test_config: Mapping[str, Any] | None = None) -> None:
    """Layer the configuration onto ``app.config`` and validate it.

    What the deployment set (``instance/config.py``, ``CONSOLE_*``, or ``test_config``) is kept
    in ``app.extensions["deployment_config"]``: those keys pin their console settings.
    """
    app.config.from_object(DefaultConfig)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        pinned = _pyfile_keys(app, "config.py") | apply_environment(app, os.environ)
    else:
        app.config.from_mapping(test_config)
        pinned = set(test_config)
    app.extensions["deployment_config"] = {key: app.config[key] for key in pinned if key in app.config}
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        db_path = Path(app.instance_path) / "console.db"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{db_path}"
    if not app.config.get("SECURITY_PASSWORD_SALT") and app.config.get("SECRET_KEY"):
        app.config["SECURITY_PASSWORD_SALT"] = app.config["SECRET_KEY"]
    app.config["CACHE_SECONDS"] = {**DefaultConfig.CACHE_SECONDS, **(app.config.get("CACHE_SECONDS") or {})}
    if app.config.get("REDIS_URL") and not app.config.get("CACHE_REDIS_URL"):
        app.config["CACHE_REDIS_URL"] = app.config["REDIS_URL"]
    if app.config.get("CACHE_REDIS_URL") and app.config["CACHE_TYPE"] == "SimpleCache":
        app.config["CACHE_TYPE"] = "RedisCache"
    validate_config(app.config)


def validate_config(config: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` naming the setting to fix when the configuration cannot work."""
    secret = config.get("SECRET_KEY")
    if not secret or secret == PLACEHOLDER_SECRET:
        raise ConfigError(
            "SECRET_KEY is not set. Put a long random value in instance/config.py "
            "(`make run` writes one) or set CONSOLE_SECRET_KEY."
        )
    if len(str(secret)) < 32 and not config.get("TESTING"):
        raise ConfigError("SECRET_KEY is too short: use at least 32 random characters.")
    uri = str(config["SQLALCHEMY_DATABASE_URI"])
    if not uri.startswith(("sqlite:", "postgresql")):
        raise ConfigError(f"CONSOLE_DATABASE_URL must be a sqlite:// or postgresql:// URL, got {uri.split(':')[0]!r}")
    allowed = config.get("WEBHOOK_ALLOWED_HOSTS") or []
    if not isinstance(allowed, (list, tuple)) or not all(isinstance(h, str) and h.strip() for h in allowed):
        raise ConfigError('WEBHOOK_ALLOWED_HOSTS must be a list of host names or CIDRs, e.g. ["10.20.0.0/16"].')
    for key in ("LOGIN_MAX_FAILURES", "LOGIN_RATE_LIMIT_PER_MINUTE", "SECURITY_PASSWORD_LENGTH_MIN"):
        if int(config[key]) < 1:
            raise ConfigError(f"{key} must be at least 1.")
    for key in (
        "LOGIN_DELAY_BASE_SECONDS",
        "LOGIN_DELAY_MAX_SECONDS",
        "LOGIN_KNOWN_ADDRESS_DAYS",
        "TRUSTED_PROXY_COUNT",
    ):
        if int(config[key]) < 0:
            raise ConfigError(f"{key} must be 0 or more.")
    for key in (
        "LOG_MAX_LINES",
        "LOG_MAX_BYTES",
        "LOG_READS_PER_USER",
        "LOG_READS_PER_SERVER",
        "AIRFLOW_RETRY_ATTEMPTS",
        "AUDIT_RETENTION_DAYS",
        "AUDIT_PURGE_EVERY_SECONDS",
        "AUDIT_PURGE_BATCH",
    ):
        if int(config[key]) < 1:
            raise ConfigError(f"{key} must be at least 1.")
    for key in (
        "JOBS_WORKERS",
        "JOBS_MAX_ITEMS",
        "JOBS_STALE_AFTER_SECONDS",
        "JOBS_MAX_ATTEMPTS",
        "XCOM_PREVIEW_CHARS",
        "TI_CLEAR_INLINE_MAX",
    ):
        if float(config[key]) < 1:
            raise ConfigError(f"{key} must be at least 1.")
    if float(config["JOBS_HEARTBEAT_SECONDS"]) <= 0:
        raise ConfigError("JOBS_HEARTBEAT_SECONDS must be more than 0.")
    redis_url = config.get("REDIS_URL")
    if redis_url and not str(redis_url).startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("CONSOLE_REDIS_URL must be a redis://, rediss:// or unix:// URL.")
    if not 5 <= int(config["DASHBOARD_REFRESH_SECONDS"]) <= 3600:
        raise ConfigError("DASHBOARD_REFRESH_SECONDS must be between 5 and 3600 (seconds between refreshes).")
    if not 1 <= int(config["DASHBOARD_MAX_RUNS"]) <= 10_000:
        raise ConfigError("DASHBOARD_MAX_RUNS must be between 1 and 10000 (runs per server for the charts).")
    if float(config["DASHBOARD_DEADLINE_SECONDS"]) <= 0:
        raise ConfigError("DASHBOARD_DEADLINE_SECONDS must be more than 0.")
    if float(config["AIRFLOW_RETRY_BACKOFF_SECONDS"]) < 0:
        raise ConfigError("AIRFLOW_RETRY_BACKOFF_SECONDS cannot be negative.")
    validate_cache(config)
    validate_observability(config)
    if int(config["LOG_SHARED_MAX_BYTES"]) < 0:
        raise ConfigError("LOG_SHARED_MAX_BYTES cannot be negative (0 shares no log).")
    if int(config["LOG_CACHE_MAX_BYTES"]) < 0 or float(config["LOG_READ_WAIT_SECONDS"]) < 0:
        raise ConfigError("LOG_CACHE_MAX_BYTES and LOG_READ_WAIT_SECONDS cannot be negative (0 turns them off).")


def validate_observability(config: Mapping[str, Any]) -> None:
    """The metrics allow-list and the log format (``ConfigError`` naming the key to fix)."""
    import ipaddress

    allowed = config.get("METRICS_ALLOWED_ADDRESSES")
    if not isinstance(allowed, (list, tuple)):
        raise ConfigError('METRICS_ALLOWED_ADDRESSES must be a list of CIDRs, e.g. ["10.0.5.0/24"].')
    for cidr in allowed:
        try:
            ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            raise ConfigError(f"METRICS_ALLOWED_ADDRESSES: {cidr!r} is not an address or CIDR.") from None
    if config.get("LOG_FORMAT") not in ("text", "json"):
        raise ConfigError(f"LOG_FORMAT must be text or json, got {config.get('LOG_FORMAT')!r}.")
    if str(config.get("LOG_LEVEL", "")).upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL.")


def validate_cache(config: Mapping[str, Any]) -> None:
    """The read cache's lifetimes and Redis URL (``ConfigError`` naming the key to fix)."""
    for old, new in REPLACED.items():
        if old in config:
            raise ConfigError(f"{old} was replaced by {new}: move the value there.")
    lifetimes = config.get("CACHE_SECONDS")
    if not isinstance(lifetimes, Mapping):
        raise ConfigError('CACHE_SECONDS must be a mapping of kind to seconds, e.g. {"dag_list": 10}.')
    for kind, seconds in lifetimes.items():
        if kind not in DefaultConfig.CACHE_SECONDS:
            known = ", ".join(DefaultConfig.CACHE_SECONDS)
            raise ConfigError(f"CACHE_SECONDS[{kind!r}] is not a kind of read; the kinds are {known}.")
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise ConfigError(f"CACHE_SECONDS[{kind!r}] must be whole seconds, 0 or more (got {seconds!r}).")
    for key, least in (("CACHE_FAILURE_SECONDS", 1), ("CACHE_LOCK_SECONDS", 0), ("CACHE_WAIT_SECONDS", 0)):
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < least:
            # A failure is kept at least a second: the requests waiting for the failed call read it.
            raise ConfigError(f"{key} must be a number of seconds, {least} or more (got {value!r}).")
    url = config.get("CACHE_REDIS_URL")
    if url and not str(url).startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("CONSOLE_REDIS_URL (or CACHE_REDIS_URL) must be a redis://, rediss:// or unix:// URL.")
