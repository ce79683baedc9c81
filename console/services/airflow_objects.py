"""Airflow's Variables, Pools and Connections, per server: read, change, audit, revert.

Airflow keeps no history of these objects; the console does, in the audit trail: every change
made through it writes exactly one :class:`~console.models.AuditEvent` (``category="airflow"``,
``object_type`` ``variable``/``pool``/``connection``, ``object_id`` the key, name or conn id,
``before``/``after`` the object's fields, sensitive ones encrypted), in the same commit, with
Airflow's reason when it refused.  An object whose value in Airflow is no longer the ``after`` of
the console's latest successful change was changed behind the console's back: reads flag it
(:attr:`ObjectRow.changed_outside`) and :func:`revert_change` refuses to overwrite it unless forced.

Sensitive values: a variable whose key Airflow deems sensitive (:func:`is_sensitive_key`), a
connection's password and extra.  Airflow answers them redacted (``"***"``), so the console
compares only what it can see: for a sensitive variable its description, for a connection the
other fields, whether a password is set, and the extra with its sensitive keys redacted.
Forms never show them (blank = keep).  When a change's ``before`` needs a value Airflow will not
reveal, the console uses the value it last wrote itself, or leaves the field out of ``before``
(a revert then cannot restore it, and :func:`preview_revert` says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from console.airflow.errors import AirflowAuthError, AirflowError, AirflowNotFound
from console.airflow.objects import REDACTED
from console.airflow.registry import enabled_servers
from console.extensions import db
from console.models import AirflowServer, AuditEvent
from console.services import audit
from console.services.airflow_object_kinds import KINDS, POOL, VARIABLE, Kind, differs, is_sensitive_key
from console.services.errors import ServiceError
from console.services.server_clients import ServerHandle, UnknownServer, client_or_failure, resolve_server

if TYPE_CHECKING:
    from console.airflow.client import AirflowClient

__all__ = [
    "KINDS",
    "REDACTED",
    "ChangedOutside",
    "ObjectError",
    "enabled_servers",
    "is_sensitive_key",
    "preview_revert",
    "resolve_server",
    "revert_change",
]


class ObjectError(ServiceError):
    """Airflow refused or could not carry out a change; the message names the server and why.
    ``refused``: Airflow answered that the request itself is wrong (400/404/409/422), as opposed
    to not answering."""

    def __init__(self, message: str, *, refused: bool = True) -> None:
        super().__init__(message)
        self.refused = refused


class ChangedOutside(ServiceError):
    """The object in Airflow is not what the console last wrote: a revert would overwrite a change
    made behind the console's back (pass ``force=True`` to do it anyway)."""


@dataclass
class ObjectRow:
    """One object as a screen shows it: secrets already masked."""

    object_id: str
    values: dict[str, Any]
    changed_outside: bool = False
    secret_fields: frozenset[str] = field(default_factory=frozenset)


@dataclass
class Listing:
    server: ServerHandle
    rows: list[ObjectRow]
    failure: str | None = None


def kind_of(object_type: str) -> Kind:
    try:
        return KINDS[object_type]
    except KeyError:
        raise ServiceError(f"Unknown kind of Airflow object: {object_type!r}.") from None


# --- reads -------------------------------------------------------------------------------------


def list_objects(server_id: int, object_type: str, search: str = "") -> Listing:
    """Every object of the kind on the server (``search``: a substring of the id), masked, each
    flagged when it was changed outside the console; Airflow's failure as ``failure``."""
    kind = kind_of(object_type)
    server = resolve_server(server_id)
    try:
        objects = getattr(server.client, f"list_{object_type}s")(search.strip() or None)
    except AirflowError as exc:
        return Listing(server, [], str(exc))
    known = latest_afters(server.name, object_type, [o[kind.id_field] for o in objects])
    rows = [_row(kind, obj, known.get(obj[kind.id_field], _NONE)) for obj in objects]
    return Listing(server, rows)


def get_object(server_id: int, object_type: str, object_id: str) -> tuple[ServerHandle, ObjectRow | None]:
    """One object, masked and flagged (None: Airflow has no such object).  Raises
    :class:`ObjectError` when Airflow cannot answer."""
    kind = kind_of(object_type)
    server = resolve_server(server_id)
    obj = _read(server, kind, object_id)
    if obj is None:
        return server, None
    known = latest_afters(server.name, object_type, [object_id])
    return server, _row(kind, obj, known.get(object_id, _NONE))


_NONE: Any = object()  # no console change recorded yet


def latest_afters(server_name: str, object_type: str, ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """``after`` (revealed) of the latest successful console change of each object of ``ids``."""
    if not ids:
        return {}
    latest = (
        sa.select(sa.func.max(AuditEvent.id))
        .where(
            AuditEvent.server_name == server_name,
            AuditEvent.object_type == object_type,
            AuditEvent.outcome == "success",
            AuditEvent.object_id.in_(ids),
        )
        .group_by(AuditEvent.object_id)
    )
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.id.in_(latest)))
    return {e.object_id: audit.revealed(e.after) for e in events if e.object_id is not None}


def _row(kind: Kind, obj: dict[str, Any], known: Any) -> ObjectRow:
    object_id = obj[kind.id_field]
    secrets = kind.secrets(object_id)
    values = {k: (audit.MASK if k in secrets and obj.get(k) else obj.get(k)) for k in obj if k != kind.id_field}
    changed = known is not _NONE and differs(kind, object_id, obj, known)
    return ObjectRow(object_id, values, changed, secrets)


def _read(server: ServerHandle, kind: Kind, object_id: str) -> dict[str, Any] | None:
    try:
        return kind.read(server.client, object_id)
    except AirflowNotFound:
        return None
    except AirflowError as exc:
        raise ObjectError(str(exc), refused=False) from None


# --- writes ------------------------------------------------------------------------------------


def create(actor: str, server_id: int, object_type: str, object_id: str, values: dict[str, Any]) -> AuditEvent:
    return _change(actor, resolve_server(server_id), kind_of(object_type), object_id, "create", values)


def update(actor: str, server_id: int, object_type: str, object_id: str, values: dict[str, Any]) -> AuditEvent:
    """Change the fields in ``values``; a secret field given as ``None`` or ``""`` keeps its value."""
    return _change(actor, resolve_server(server_id), kind_of(object_type), object_id, "update", values)


def delete(actor: str, server_id: int, object_type: str, object_id: str) -> AuditEvent:
    return _change(actor, resolve_server(server_id), kind_of(object_type), object_id, "delete", {})


def _change(
    actor: str, server: ServerHandle, kind: Kind, object_id: str, op: str, values: dict[str, Any]
) -> AuditEvent:
    """Do one change in Airflow and commit its one audit event (failed ones too)."""
    secrets = kind.secrets(object_id)
    values = {k: v for k, v in values.items() if k in kind.fields and not (k in secrets and v in (None, ""))}
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    try:
        current = _read(server, kind, object_id) if op != "create" else None
        if op != "create" and current is None:
            raise ObjectError(f"{kind.label} {object_id!r} does not exist on server {server.name!r}.")
        before = _known_state(server.name, kind, object_id, current)
        if op == "create":
            after = {k: values.get(k) for k in kind.fields}
            _call(server.client, kind, "create", object_id, after)
        elif op == "update":
            changes = {k: v for k, v in values.items() if before is None or k not in before or before[k] != v}
            after = {**(before or {}), **values}
            if changes:
                _call(server.client, kind, "update", object_id, changes, current)
        else:
            getattr(server.client, f"delete_{kind.object_type}")(object_id)
    except (AirflowError, ObjectError) as exc:
        _record(actor, server.name, kind, object_id, op, before, after if op != "delete" else None, str(exc))
        db.session.commit()
        refused = exc.refused if isinstance(exc, ObjectError) else exc.status in (400, 404, 409, 422)
        raise ObjectError(str(exc), refused=refused) from None
    event = _record(actor, server.name, kind, object_id, op, before, after, None)
    db.session.commit()
    return event


def _call(
    client: AirflowClient, kind: Kind, op: str, object_id: str, values: dict[str, Any], current: Any = None
) -> None:
    if kind is VARIABLE:
        if op == "create":
            client.create_variable(object_id, values.get("value") or "", values.get("description"))
        else:
            client.update_variable(object_id, values)
    elif kind is POOL:
        getattr(client, f"{op}_pool")(
            object_id, values if op == "create" else {**(kind.state(current) or {}), **values}
        )
    elif op == "create":
        client.create_connection(object_id, values)
    else:
        client.update_connection(object_id, values.get("conn_type") or current["conn_type"], values)


#: The fields Airflow may answer (partly) redacted.
_MAY_BE_REDACTED = ("value", "password", "extra")


def _known_state(server_name: str, kind: Kind, object_id: str, current: dict[str, Any] | None) -> dict[str, Any] | None:
    """``current``'s audit state with redacted secrets replaced by the value the console last
    wrote, or left out when the console never wrote one."""
    state = kind.state(current)
    if state is None:
        return None
    redacted = [k for k in _MAY_BE_REDACTED if REDACTED in str(state.get(k) or "")]
    if redacted:
        known = latest_afters(server_name, kind.object_type, [object_id]).get(object_id) or {}
        for name in redacted:
            if name in known and known[name] not in (None, ""):
                state[name] = known[name]
            else:
                del state[name]
    return state


def _record(
    actor: str,
    server_name: str,
    kind: Kind,
    object_id: str,
    op: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    error: str | None,
    **detail: Any,
) -> AuditEvent:
    return audit.record_event(
        f"{kind.object_type}.{op}",
        actor=actor,
        category="airflow",
        object_type=kind.object_type,
        object_id=object_id,
        server_name=server_name,
        before=before,
        after=after,
        secret_keys=kind.secrets(object_id),
        detail=detail or None,
        error=error,
    )


# --- revert ------------------------------------------------------------------------------------


@dataclass
class RevertPreview:
    """What reverting an event will do, masked, for the confirmation screen."""

    operation: str  # "delete", "recreate", "update", "nothing"
    changes: list[tuple[str, Any, Any]]  # (field, now, after the revert)
    changed_outside: bool
    unknown: list[str]  # fields whose old value the console never saw
    failure: str | None = None


def _server_for(event: AuditEvent) -> ServerHandle:
    server = db.session.scalar(sa.select(AirflowServer).where(AirflowServer.name == event.server_name))
    if server is None or not server.enabled:
        raise UnknownServer(f"There is no enabled Airflow server named {event.server_name!r}.")
    return ServerHandle(server.id, server.name, client_or_failure(server))


def _revertible(event: AuditEvent) -> Kind:
    if event.category != "airflow" or event.object_type not in KINDS or not event.object_id:
        raise ServiceError("Only changes to Airflow variables, pools and connections are reverted here.")
    if event.outcome != "success":
        raise ServiceError("That change did not happen: there is nothing to revert.")
    return KINDS[event.object_type]


def preview_revert(event: AuditEvent) -> RevertPreview:
    kind = _revertible(event)
    object_id = str(event.object_id)
    before, after = audit.revealed(event.before), audit.revealed(event.after)
    operation = "delete" if before is None else "recreate" if after is None else "update"
    try:
        current = _read(_server_for(event), kind, object_id)
    except ServiceError as exc:
        return RevertPreview(operation, [], False, [], str(exc))
    if before is not None and current is None:
        operation = "recreate"
    secrets = kind.secrets(object_id)
    shown_now = {k: (audit.MASK if k in secrets and v else v) for k, v in (kind.state(current) or {}).items()}
    shown_then = audit.masked(event.before) or {}
    changes = [(f, shown_now.get(f), shown_then.get(f)) for f in kind.fields if before is not None and f in before]
    if operation == "update":
        changes = [c for c in changes if c[1] != c[2] or c[0] in secrets]
    unknown = [f for f in kind.fields if before is not None and f not in before]
    return RevertPreview(operation, changes, differs(kind, object_id, current, after), unknown)


def revert_change(event: AuditEvent, *, actor: str, force: bool = False) -> AuditEvent:
    """Put the object back as it was before ``event`` (create -> delete, delete -> recreate,
    update -> the old values) and return the revert's own audit event (``reverts_id`` = event.id).

    Raises :class:`ChangedOutside` when the object in Airflow is no longer ``event``'s ``after``
    (unless ``force``), :class:`ObjectError` when Airflow refuses or cannot be reached."""
    kind = _revertible(event)
    object_id = str(event.object_id)
    server = _server_for(event)
    before, after = audit.revealed(event.before), audit.revealed(event.after)
    current = _read(server, kind, object_id)
    if not force and differs(kind, object_id, current, after):
        raise ChangedOutside(
            f"{kind.label} {object_id!r} on {server.name!r} was changed outside the console since this change;"
            " reverting would overwrite that. Confirm to revert anyway."
        )
    with audit.reverting(event.id):
        if before is None:
            if current is None:
                raise ObjectError(f"{kind.label} {object_id!r} no longer exists: nothing to revert.")
            return _change(actor, server, kind, object_id, "delete", {})
        if current is None:
            return _change(actor, server, kind, object_id, "create", before)
        return _change(actor, server, kind, object_id, "update", before)


# --- a server's configuration, providers and plugins ---------------------------------------------


@dataclass
class ServerInfo:
    server: ServerHandle
    config: list[tuple[str, str, str]]
    config_failure: str | None
    providers: list[dict[str, Any]]
    plugins: list[dict[str, Any]]
    failure: str | None = None


def server_info(server_id: int, search: str = "") -> ServerInfo:
    """The effective configuration (filtered by ``search`` on section, key or value), providers
    and plugins of a server; Airflow's refusal to show its configuration as ``config_failure``."""
    server = resolve_server(server_id)
    try:
        config, config_failure = server.client.get_config(), None
    except AirflowAuthError as exc:
        config, config_failure = [], exc.reason if exc.status == 403 else str(exc)
    except AirflowError as exc:
        return ServerInfo(server, [], None, [], [], str(exc))
    needle = search.strip().lower()
    if needle:
        config = [row for row in config if any(needle in part.lower() for part in row)]
    try:
        providers, plugins = server.client.list_providers(), server.client.list_plugins()
    except AirflowError as exc:
        return ServerInfo(server, config, config_failure, [], [], str(exc))
    return ServerInfo(server, config, config_failure, providers, plugins)
