"""Each setting type's rules: :func:`parse` what a person typed, :func:`display` a value as text."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from console.services.settings_registry import Definition, InvalidSetting

_HOST_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$"
)
_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
TRUE_WORDS = {"1", "true", "yes", "on", "y"}
FALSE_WORDS = {"0", "false", "no", "off", "n", ""}


def _number(d: Definition, raw: str) -> int | float:
    text = raw.strip().replace("_", "")
    try:
        value: int | float = int(text) if d.type == "int" else float(text)
    except ValueError:
        kind = "a whole number" if d.type == "int" else "a number"
        raise InvalidSetting(f"Enter {kind}{f' of {d.unit}' if d.unit else ''}.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidSetting("Enter a finite number.")
    low, high = d.minimum, d.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidSetting(f"Enter a value between {_fmt(low)} and {_fmt(high)}{f' {d.unit}' if d.unit else ''}.")
    return value


def _fmt(bound: float | None) -> str:
    return "any" if bound is None else f"{bound:g}"


def _check_text(check: str | None, text: str) -> None:
    if not text or check is None:
        return
    if check == "host" and not _host_or_ip(text):
        raise InvalidSetting("Enter a host name or IP address (no scheme, no port).")
    if check == "email" and not _EMAIL_RE.match(text):
        raise InvalidSetting("Enter an email address such as alerts@example.com.")
    if check == "allowed_host" and not (_host_or_ip(text) or _cidr(text)):
        raise InvalidSetting(f"{text!r} is neither a host name nor a CIDR such as 10.20.0.0/16.")


def _host_or_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return bool(_HOST_RE.match(text))


def _cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
        return "/" in text
    except ValueError:
        return False


def _lines(raw: str) -> list[str]:
    """One value a line (commas also separate), or a JSON list of strings."""
    text = raw.strip()
    if text.startswith("["):
        try:
            loaded = json.loads(text)
        except ValueError:
            raise InvalidSetting("Enter one value per line, or a JSON list of strings.") from None
        if not isinstance(loaded, list) or not all(isinstance(v, str) for v in loaded):
            raise InvalidSetting("Enter one value per line, or a JSON list of strings.")
        items = loaded
    else:
        items = text.replace(",", "\n").splitlines()
    return [v.strip() for v in items if v.strip()]


def parse(d: Definition, raw: str) -> Any:
    """The value of ``d`` that ``raw`` (as typed in the form or the CLI) stands for; raises
    :class:`InvalidSetting`. A webhook's reachability is checked by the settings service."""
    raw = raw if isinstance(raw, str) else str(raw)
    if d.type in ("int", "float"):
        return _number(d, raw)
    if d.type == "bool":
        word = raw.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise InvalidSetting("Enter yes or no.")
    if d.type == "choice":
        choices = d.choices or {}
        if raw.strip() not in choices:
            raise InvalidSetting(f"Choose one of: {', '.join(choices)}.")
        return raw.strip()
    if d.type == "timezone":
        from console.services import cron

        try:
            return cron.zone(raw.strip()).key
        except cron.CronError as exc:
            raise InvalidSetting(str(exc)) from None
    if d.type == "list":
        values = _lines(raw)
        for value in values:
            _check_text(d.check, value)
        return values
    text = raw.strip()
    if len(text) > 500:
        raise InvalidSetting("Enter at most 500 characters.")
    if d.type == "str":
        _check_text(d.check, text)
    return text


def display(d: Definition, value: Any) -> str:
    """``value`` as the form shows it (never called for secrets)."""
    if d.type == "list":
        return "\n".join(value or [])
    if d.type == "bool":
        return "yes" if value else "no"
    if value is None:
        return ""
    if d.type == "float":
        return f"{float(value):g}"
    return str(value)
