"""The kinds of Airflow objects the console edits, which of their values are sensitive, and how
the console compares what it last wrote with what Airflow answers (which is redacted)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from console.airflow.objects import CONNECTION_FIELDS, POOL_FIELDS, REDACTED, VARIABLE_FIELDS

if TYPE_CHECKING:
    from console.airflow.client import AirflowClient

#: Airflow 3.3's ``DEFAULT_SENSITIVE_FIELDS`` (``airflow._shared.secrets_masker``): a variable whose
#: key contains one of these (lower-cased, non-word characters as ``_``) has its value hidden.
SENSITIVE_NAMES = frozenset(
    {
        "access_key",
        "access_token",
        "api_key",
        "apikey",
        "auth_header",
        "authorization",
        "bearer",
        "connection_string",
        "dsn",
        "passphrase",
        "passwd",
        "password",
        "private_key",
        "proxy",
        "proxy_password",
        "proxies",
        "secret",
        "service_account",
        "service_key",
        "token",
        "keyfile_dict",
        "webhook_url",
    }
)


def is_sensitive_key(name: str) -> bool:
    """Whether Airflow hides the value of a variable (or extra field) named ``name``."""
    normalized = re.sub(r"\W+", "_", name.strip().lower())
    return any(s in normalized for s in SENSITIVE_NAMES)


@dataclass(frozen=True)
class Kind:
    """One kind of Airflow object: its audit ``object_type``, fields, and client calls."""

    object_type: str
    label: str
    id_field: str
    fields: tuple[str, ...]
    secrets: Callable[[str], frozenset[str]]

    def read(self, client: AirflowClient, object_id: str) -> dict[str, Any]:
        return getattr(client, f"get_{self.object_type}")(object_id)  # type: ignore[no-any-return]

    def state(self, obj: dict[str, Any] | None) -> dict[str, Any] | None:
        """The fields the audit trail keeps of ``obj`` (None: it does not exist)."""
        return None if obj is None else {k: obj.get(k) for k in self.fields}


VARIABLE = Kind(
    "variable",
    "Variable",
    "key",
    VARIABLE_FIELDS,
    lambda key: frozenset({"value"}) if is_sensitive_key(key) else frozenset(),
)
POOL = Kind("pool", "Pool", "name", POOL_FIELDS, lambda _name: frozenset())
CONNECTION = Kind(
    "connection", "Connection", "connection_id", CONNECTION_FIELDS, lambda _id: frozenset({"password", "extra"})
)
KINDS: dict[str, Kind] = {k.object_type: k for k in (VARIABLE, POOL, CONNECTION)}


def differs(kind: Kind, object_id: str, current: dict[str, Any] | None, expected: dict[str, Any] | None) -> bool:
    """Whether ``current`` (as Airflow answers, redacted) is not ``expected`` (a console ``after``),
    comparing only what Airflow reveals."""
    if current is None or expected is None:
        return (current is None) != (expected is None)
    secrets = kind.secrets(object_id)
    for name, want in expected.items():
        have = current.get(name)
        if name in secrets and kind is VARIABLE:
            continue  # Airflow never shows it: nothing to compare
        if name == "password":
            if bool(have) != bool(want):
                return True
        elif name in ("value", "extra"):
            if as_airflow_shows(want) != as_airflow_shows(have):
                return True
        elif (have if have != "" else None) != (want if want != "" else None):
            return True
    return False


def as_airflow_shows(value: Any) -> Any:
    """A variable value or a connection extra as Airflow answers it: JSON has the values of its
    sensitive keys replaced by ``***``."""
    if value in (None, ""):
        return None
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return value
    return _redact(parsed) if isinstance(parsed, (dict, list)) else value


def _redact(value: Any, name: str = "") -> Any:
    if name and is_sensitive_key(name):
        return REDACTED
    if isinstance(value, dict):
        return {k: _redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value
