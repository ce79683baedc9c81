"""Bulk import and export of a server's Airflow variables as JSON (``{"key": value, ...}``).

An import is checked whole before anything is sent: a file that is not a JSON object of valid
keys and values changes nothing and every problem is reported.  Then each key is created or
updated on its own (one audit event each, through :mod:`console.services.airflow_objects`), and
the result says, per key, what happened; one key Airflow refuses does not stop the others.
Values that are not strings are stored as their JSON text, as Airflow does.

An export holds every variable Airflow reveals: values of sensitive keys come back redacted
(``***``) and are left out of the file (their keys are named in ``left_out``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from console.airflow.errors import AirflowError
from console.airflow.objects import REDACTED
from console.services import airflow_objects
from console.services.airflow_object_kinds import is_sensitive_key
from console.services.errors import ServiceError
from console.services.server_clients import resolve_server

#: The longest variable key Airflow accepts.
MAX_KEY = 250
#: The largest import the console accepts (bytes of JSON).
MAX_IMPORT_BYTES = 2_000_000


class ImportInvalid(ServiceError):
    """The file cannot be imported; ``problems`` lists every reason (nothing was changed)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Nothing was imported: " + "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else ""))
        self.problems = problems


@dataclass(frozen=True)
class ImportResult:
    key: str
    outcome: str  # created, updated, unchanged, failed
    message: str = ""


def parse_import(text: str) -> dict[str, str]:
    """The variables of an import file, or :class:`ImportInvalid` naming every problem."""
    if len(text.encode("utf-8", "replace")) > MAX_IMPORT_BYTES:
        raise ImportInvalid([f"the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB"])
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ImportInvalid([f"the file is not valid JSON{where}"]) from None
    if not isinstance(data, dict):
        raise ImportInvalid(['the file must hold one JSON object: {"key": "value", ...}'])
    if not data:
        raise ImportInvalid(["the file holds no variables"])
    problems: list[str] = []
    out: dict[str, str] = {}
    for key, value in data.items():
        if not key.strip() or len(key) > MAX_KEY:
            problems.append(f"key {key[:40]!r}: must be 1 to {MAX_KEY} characters")
        elif value is None:
            problems.append(f"key {key!r}: has no value (null)")
        else:
            out[key] = value if isinstance(value, str) else json.dumps(value)
    if problems:
        raise ImportInvalid(problems)
    return out


def import_variables(actor: str, server_id: int, text: str) -> list[ImportResult]:
    """Create or update every variable of the file (checked whole first); one result per key."""
    wanted = parse_import(text)
    server = resolve_server(server_id)
    try:
        existing = {v["key"]: v for v in server.client.list_variables()}
    except AirflowError as exc:
        raise ServiceError(f"Nothing was imported: {exc}") from None
    results = []
    for key, value in wanted.items():
        current = existing.get(key)
        if current is not None and not is_sensitive_key(key) and current["value"] == value:
            results.append(ImportResult(key, "unchanged"))
            continue
        try:
            if current is None:
                airflow_objects.create(actor, server_id, "variable", key, {"value": value})
            else:
                airflow_objects.update(actor, server_id, "variable", key, {"value": value})
        except ServiceError as exc:
            results.append(ImportResult(key, "failed", str(exc)))
        else:
            results.append(ImportResult(key, "created" if current is None else "updated"))
    return results


def export_variables(server_id: int) -> tuple[str, list[str]]:
    """``(json_text, left_out)``: every variable Airflow reveals, and the keys it redacts."""
    server = resolve_server(server_id)
    try:
        variables = server.client.list_variables()
    except AirflowError as exc:
        raise ServiceError(str(exc)) from None
    data: dict[str, Any] = {}
    left_out = []
    for v in variables:
        if is_sensitive_key(v["key"]) or REDACTED in (v["value"] or ""):
            left_out.append(v["key"])
        else:
            data[v["key"]] = v["value"]
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", left_out
