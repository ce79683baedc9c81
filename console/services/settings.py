"""Console settings: what every reader asks (:func:`value`), and how an admin changes them (:func:`save`).

The value of a setting (``console.services.settings_registry``) is, in order:

1. the deployment's, when ``instance/config.py``, a ``CONSOLE_*`` variable or the test config sets
   its key (*pinned*: the settings page shows it read-only);
2. the admin's, stored in the ``setting`` table (secrets encrypted);
3. the default in ``console.config.DefaultConfig``.

Changes take effect without a restart in every process: each process keeps the stored values
with their *generation* (the row count and the sum of the rows' ``revision``, which every change
raises) and compares it with the database once per app context (so once per web request) and
again every ``SETTINGS_CHECK_SECONDS`` in a long-lived one (the scheduler, a job worker),
reloading when it changed. The check is one small query on its own connection.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g, has_app_context
from flask.sessions import SecureCookieSessionInterface

from console.extensions import db
from console.models import Setting
from console.models.timeutil import utcnow
from console.security import outbound
from console.security.secrets import SecretUnreadable, decrypt, encrypt
from console.services.errors import ServiceError
from console.services.setting_types import display, parse
from console.services.settings_registry import REGISTRY, Definition, InvalidSetting, definition

log = logging.getLogger(__name__)
PINNED_MESSAGE = "Set by the deployment: change it there (instance/config.py or CONSOLE_{key})."
_CHECKED = "_settings_checked_at"


class SettingsInvalid(ServiceError):
    """Some values were refused; ``errors`` maps each setting name to a message for a person."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.errors.items()))


@dataclass(frozen=True)
class Snapshot:
    """The stored settings as one process last read them."""

    generation: tuple[int, int] = (-1, -1)
    values: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # name -> ciphertext


class SettingsStore:
    """One per app (``app.extensions["settings"]``): the pins, and the stored values it last read."""

    def __init__(self, app: Flask) -> None:
        self.deployment: dict[str, Any] = dict(app.extensions.get("deployment_config", {}))
        self.check_seconds = float(app.config["SETTINGS_CHECK_SECONDS"])
        self.snapshot = Snapshot()
        self._lock = threading.Lock()

    def pinned(self, d: Definition) -> bool:
        if d.config_key not in self.deployment:
            return False
        pinned = self.deployment[d.config_key]
        return d.item is None or (isinstance(pinned, Mapping) and d.item in pinned)

    def pinned_value(self, d: Definition) -> Any:
        pinned = self.deployment[d.config_key]
        pinned = pinned[d.item] if d.item is not None else pinned
        # Flask accepts PERMANENT_SESSION_LIFETIME as a timedelta too; the setting is in seconds.
        return int(pinned.total_seconds()) if isinstance(pinned, timedelta) else pinned

    def current(self) -> Snapshot:
        """The stored values, checked against the database once per app context (and again every
        ``check_seconds`` in a long-lived one)."""
        checked = g.get(_CHECKED)
        if checked is None or time.monotonic() - checked >= self.check_seconds:
            self.check()
            setattr(g, _CHECKED, time.monotonic())
        return self.snapshot

    def check(self) -> None:
        """Reload the stored values if another process (or this one) changed them."""
        try:
            with db.engine.connect() as conn:
                generation = tuple(
                    conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Setting.revision), 0))).one()
                )
                if generation == self.snapshot.generation:
                    return
                rows = conn.execute(sa.select(Setting.name, Setting.value_json, Setting.secret_ciphertext)).all()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("cannot read the console settings (keeping the last ones read): %s", exc)
            return
        values, secrets = {}, {}
        for name, value_json, ciphertext in rows:
            if ciphertext:
                secrets[name] = ciphertext
            elif value_json is not None:
                values[name] = json.loads(value_json)
        with self._lock:
            self.snapshot = Snapshot((int(generation[0]), int(generation[1])), values, secrets)

    def get(self, name: str) -> Any:
        """The effective value of the setting ``name``: for lower layers (``console.security``),
        which reach the store through ``current_app.extensions["settings"]``."""
        return self.value(definition(name))

    def value(self, d: Definition, *, check: bool = True) -> Any:
        """``d``'s effective value; ``check=False`` reads the values last loaded without asking
        the database (for threads without an app context)."""
        if self.pinned(d):
            return self.pinned_value(d)
        snapshot = self.current() if check else self.snapshot
        if d.secret:
            ciphertext = snapshot.secrets.get(d.name)
            return decrypt(ciphertext) if ciphertext else d.default
        return snapshot.values.get(d.name, d.default)


class LiveSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, expiring after the current ``session_lifetime_seconds``."""

    def open_session(self, app: Flask, request: Any) -> Any:
        seconds = int(value("session_lifetime_seconds"))
        if app.config["PERMANENT_SESSION_LIFETIME"] != seconds:
            app.config["PERMANENT_SESSION_LIFETIME"] = seconds
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Bind the settings store to ``app`` (after ``load_config``); runs no query."""
    app.extensions["settings"] = SettingsStore(app)
    app.session_interface = LiveSessionInterface()


def store() -> SettingsStore:
    return current_app.extensions["settings"]  # type: ignore[no-any-return]


def value(name: str) -> Any:
    """The effective value of the setting ``name`` (pinned, stored or default); a secret comes
    decrypted (``SecretUnreadable`` if the secret key changed). Needs an app context."""
    return store().value(definition(name))


def is_set(name: str) -> bool:
    """Whether the setting ``name`` has a value (for a secret: without decrypting it)."""
    s, d = store(), definition(name)
    if s.pinned(d):
        return bool(s.pinned_value(d))
    if d.secret:
        return d.name in s.current().secrets or bool(d.default)
    return bool(s.value(d))


def value_in(app: Flask, name: str) -> Any:
    """:func:`value` for code that may run outside an app context (a worker thread): there, the
    values ``app`` last loaded."""
    if has_app_context():
        return value(name)
    return app.extensions["settings"].value(definition(name), check=False)


def audit_retention_days() -> int:
    """Days audit records are kept (0: forever); the scheduler's purge reads it."""
    return int(value("audit_retention_days"))


def check_now() -> None:
    """Look for changed settings now (the scheduler calls it on every tick)."""
    store().check()


# --- changing settings -----------------------------------------------------------------------


def save(raw: Mapping[str, str], clear: Iterable[str] = ()) -> list[str]:
    """Validate every value of ``raw`` (name -> text as typed), then store them and commit: one
    audit transaction. A blank secret keeps the stored one; a name in ``clear`` removes it.
    Raises :class:`SettingsInvalid` (nothing stored) if any value is refused; returns the names
    whose value changed."""
    parsed = validate(raw, clear)
    changed = [name for name, new in parsed.items() if _write(definition(name), new)]
    db.session.commit()
    store().check()
    return changed


def validate(raw: Mapping[str, str], clear: Iterable[str] = ()) -> dict[str, Any]:
    """The values ``raw`` and ``clear`` stand for (a cleared secret as ``None``; blank secrets
    left out), or :class:`SettingsInvalid` with a message per refused setting."""
    clear = set(clear)
    errors: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    for name in [*raw, *clear]:
        try:
            d = definition(name)
        except InvalidSetting as exc:
            errors[name] = str(exc)
            continue
        if store().pinned(d):
            errors[name] = PINNED_MESSAGE.format(key=d.config_key)
        elif d.secret and name in clear:
            parsed[name] = None
        elif d.secret and not str(raw.get(name) or "").strip():
            continue
        else:
            try:
                parsed[name] = parse(d, raw[name])
            except InvalidSetting as exc:
                errors[name] = str(exc)
    errors.update(_cross_checks(parsed, errors))
    if errors:
        raise SettingsInvalid(errors)
    return parsed


def _cross_checks(parsed: Mapping[str, Any], errors: Mapping[str, str]) -> dict[str, str]:
    """Rules between settings, on the values they would have after the change."""

    def after(name: str) -> Any:
        return parsed[name] if name in parsed else value(name)

    out: dict[str, str] = {}
    delays = ("login_delay_base_seconds", "login_delay_max_seconds")
    if not any(name in errors for name in delays) and after(delays[0]) > after(delays[1]):
        out["login_delay_max_seconds"] = "The longest delay cannot be shorter than the first delay."
    url = parsed.get("alert_default_webhook")
    if url and "webhook_allowed_hosts" not in errors:
        try:
            outbound.check_webhook_url(url, allowed_hosts=after("webhook_allowed_hosts"))
        except outbound.OutboundRefused as exc:
            out["alert_default_webhook"] = str(exc)
    return out


def _write(d: Definition, new: Any) -> bool:
    """Store ``new`` as ``d``'s value (the caller commits); whether anything changed."""
    row = db.session.get(Setting, d.name)
    if d.secret:
        if not _secret_differs(row, new):
            return False
    elif (row.value_json if row else None) == _stored(d, new):
        return False
    if row is None:
        row = Setting(name=d.name, revision=0)
        db.session.add(row)
    if d.secret:
        row.secret_ciphertext = encrypt(new) if new else None
        row.secret_changed_at = utcnow()
    else:
        row.value_json = _stored(d, new)
    # In SQL, so that two processes saving at once both count: the generation must change.
    row.revision = Setting.revision + 1 if sa.inspect(row).persistent else 1
    return True


def _stored(d: Definition, new: Any) -> str | None:
    """The JSON text stored for ``new``; None (the default) when it equals the default (an empty
    text or list is the same as no value)."""
    if new == d.default or (new in ("", [], None) and d.default in ("", [], None)):
        return None
    return json.dumps(new)


def _secret_differs(row: Setting | None, new: str | None) -> bool:
    if row is None or not row.secret_ciphertext:
        return bool(new)
    try:
        return decrypt(row.secret_ciphertext) != new
    except SecretUnreadable:
        return True


# --- what the settings page shows ----------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One setting as the page shows it; a secret's value is never part of it, only ``secret_set``."""

    definition: Definition
    current: str
    default: str
    pinned: bool
    secret_set: bool


def entries() -> list[Entry]:
    """Every setting with its current and default value (as text), pinned or not."""
    s = store()
    out = []
    for d in REGISTRY:
        pinned = s.pinned(d)
        if d.secret:
            out.append(Entry(d, "", "", pinned, is_set(d.name)))
        else:
            out.append(Entry(d, display(d, s.value(d)), display(d, d.default), pinned, False))
    return out
