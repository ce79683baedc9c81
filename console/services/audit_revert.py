"""Diffs of audit events and reverting the change an event records.

Versioned console rows (``object_type`` is the model's table: ``task``, ``airflow_server``,
``user``, ``setting``...) are put back through the ORM inside
:func:`console.services.audit.reverting`, so the row-change hook records the revert as an
event naming the reverted one (``reverts_id``); if the revert changes nothing (or no hook
wrote an event) this module records the ``revert`` event itself. An update is undone by
restoring the ``before`` values of the changed fields; a create by deleting the row; a delete
by restoring the row's last version through SQLAlchemy-Continuum (``version.revert()``).
Airflow variables, pools and connections are reverted by
``console.services.airflow_objects`` (imported when needed).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy_continuum import version_class

from console.extensions import db
from console.models import AuditEvent
from console.services import audit
from console.services.audit_changes import is_secret
from console.services.errors import ServiceError
from console.services.settings_registry import InvalidSetting, definition

AIRFLOW_OBJECTS = ("variable", "pool", "connection")
EMPTY = "(none)"


class CannotRevert(ServiceError):
    """This event cannot be reverted; the message says why."""


class ChangedOutside(ServiceError):
    """The object was changed outside the console since the event: reverting needs ``force``."""


@dataclass
class FieldChange:
    """One field of a diff: its old and new value as shown (secrets masked)."""

    name: str
    old: str
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new or self.old == audit.MASK


@dataclass
class RevertPlan:
    """What a revert of ``event`` would do: ``kind`` and the field changes from now to then."""

    event: AuditEvent
    kind: str  # "update", "delete" (undo a create), "recreate" (undo a delete), "airflow"
    changes: list[FieldChange] = field(default_factory=list)
    warning: str | None = None
    operation: str | None = None  # for "airflow": "update", "delete" (undo a create) or "recreate"

    @property
    def wording(self) -> str:
        """What the confirmation says the revert does: "update", "delete" or "recreate"."""
        return self.operation if self.kind == "airflow" and self.operation else self.kind


def show(value: Any) -> str:
    """A value as the diff shows it."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def diff(event: AuditEvent) -> list[FieldChange]:
    """Field by field, old -> new, from the event's ``before``/``after``; secrets masked."""
    before = audit.masked(event.before) or {}
    after = audit.masked(event.after) or {}
    return [
        FieldChange(k, show_field(event, k, before.get(k)), show_field(event, k, after.get(k)))
        for k in sorted(set(before) | set(after))
    ]


def show_field(event: AuditEvent, name: str, value: Any) -> str:
    """A field of ``event``'s object as the diff shows it: a setting without a stored value has its
    default, so that a first change reads "30 (default) -> 45" rather than "(none) -> 45"."""
    if event.object_type == "setting" and name == "value_json" and value is None and event.object_id:
        try:
            d = definition(event.object_id)
        except InvalidSetting:
            return EMPTY
        if not d.secret:
            return f"{json.dumps(d.default)} (default)"
    return show(value)


def revertible(event: AuditEvent) -> bool:
    """Whether the event records a change that a revert could undo (it has a before or an after)."""
    if event.before is None and event.after is None:
        return False
    return event.object_type in AIRFLOW_OBJECTS or _model(event.object_type) is not None


def _model(table: str | None) -> Any:
    """The versioned model class whose table is ``table``, if any."""
    if not table:
        return None
    for mapper in db.Model.registry.mappers:  # type: ignore[attr-defined]
        cls = mapper.class_
        if getattr(cls, "__tablename__", None) == table and hasattr(cls, "__versioned__"):
            return cls
    return None


def _airflow_objects() -> Any:
    try:
        return importlib.import_module("console.services.airflow_objects")
    except ImportError:
        return None


def _secret_keys(stored: str | None) -> set[str]:
    values = json.loads(stored) if stored else {}
    return {k for k, v in values.items() if isinstance(v, dict) and "$secret" in v}


def plan(event: AuditEvent) -> RevertPlan:
    """What reverting ``event`` would change; :class:`CannotRevert` if it cannot be reverted."""
    if event.before is None and event.after is None:
        raise CannotRevert("This event records no change (no before or after values), so there is nothing to revert.")
    if event.object_type in AIRFLOW_OBJECTS:
        return _airflow_plan(event)
    model = _model(event.object_type)
    if model is None:
        raise CannotRevert(f"Cannot revert this kind of change ({event.object_type or 'no object'}).")
    row = db.session.get(model, _pk(event))
    target = audit.masked(event.before) or {}
    if event.before is None:  # a create: undo it by deleting the row
        if row is None:
            raise CannotRevert(f"The {event.object_type} {event.object_id} no longer exists.")
        now = _current(row, audit.masked(event.after) or {})
        shown = {
            k: audit.MASK if is_secret(k) and v not in (None, "") else show_field(event, k, v) for k, v in now.items()
        }
        return RevertPlan(event, "delete", [FieldChange(k, v, show_field(event, k, None)) for k, v in shown.items()])
    if row is None:
        if event.after is not None:
            raise CannotRevert(f"The {event.object_type} {event.object_id} no longer exists.")
        return RevertPlan(event, "recreate", [FieldChange(k, EMPTY, show(v)) for k, v in sorted(target.items())])
    secrets = _secret_keys(event.before)
    now = _current(row, target)
    changes = [
        FieldChange(k, audit.MASK if k in secrets else show_field(event, k, now.get(k)), show_field(event, k, v))
        for k, v in sorted(target.items())
    ]
    after = audit.masked(event.after) or {}
    moved = [k for k in after if k not in secrets and k in now and show(now[k]) != show(after[k])]
    warning = f"Changed again since this event: {', '.join(moved)}. The revert overwrites that." if moved else None
    return RevertPlan(event, "update", changes, warning)


def _pk(event: AuditEvent) -> Any:
    try:
        return int(event.object_id or "")
    except ValueError:
        return event.object_id


def _current(row: Any, keys: dict[str, Any]) -> dict[str, Any]:
    """The row's values of ``keys`` as the audit records them (a collection as its names)."""
    values = {k: getattr(row, k) for k in keys if hasattr(row, k)}
    return {k: sorted(str(i) for i in v) if isinstance(v, (list, set)) else v for k, v in values.items()}


def _airflow_plan(event: AuditEvent) -> RevertPlan:
    module = _airflow_objects()
    if module is None or not hasattr(module, "preview_revert"):
        raise CannotRevert(f"Cannot revert this kind of change ({event.object_type}) yet.")
    changed_outside = getattr(module, "ChangedOutside", ChangedOutside)
    warning = None
    try:
        preview = module.preview_revert(event)
    except changed_outside as exc:
        preview, warning = None, str(exc) or "Changed outside the console since this event."
    changes = _changes_of(preview) if preview is not None else diff_reversed(event)
    operation = getattr(preview, "operation", None)
    return RevertPlan(event, "airflow", changes, warning or _preview_warning(event, preview), operation)


def _preview_warning(event: AuditEvent, preview: Any) -> str | None:
    """What the confirmation must say before a revert of an Airflow object: Airflow could not be
    read, the object changed outside the console since ``event``, or old values the console never saw."""
    failure = getattr(preview, "failure", None)
    if failure:
        return f"Cannot read the {event.object_type} {event.object_id} from Airflow: {failure}"
    notes = []
    if getattr(preview, "changed_outside", False):
        notes.append(f"The {event.object_type} {event.object_id} was changed outside the console since this event.")
    unknown = getattr(preview, "unknown", None)
    if unknown:
        notes.append(f"The console never saw the old value of {', '.join(unknown)}: the revert leaves it as it is.")
    return " ".join(notes) or None


def diff_reversed(event: AuditEvent) -> list[FieldChange]:
    return [FieldChange(c.name, c.new, c.old) for c in diff(event)]


def _changes_of(preview: Any) -> list[FieldChange]:
    """The airflow_objects preview (a RevertPlan-like object, a list of changes, or a dict) as field changes."""
    items = getattr(preview, "changes", preview)
    if isinstance(items, dict):
        return [FieldChange(k, show(v[0]), show(v[1])) for k, v in sorted(items.items())]
    out = []
    for item in items or ():
        if isinstance(item, FieldChange):
            out.append(item)
        elif isinstance(item, tuple):  # airflow_objects.RevertPreview: (field, now, after the revert)
            name, old, new = item
            out.append(FieldChange(str(name), show(old), show(new)))
        elif isinstance(item, dict):
            out.append(FieldChange(str(item.get("name")), show(item.get("old")), show(item.get("new"))))
        else:
            name, old, new = (getattr(item, a, None) for a in ("name", "old", "new"))
            out.append(FieldChange(str(name), show(old), show(new)))
    return out


def revert(event: AuditEvent, *, actor: str, force: bool = False) -> AuditEvent:
    """Revert the change ``event`` records and return the event that records the revert.

    Raises :class:`CannotRevert`, or the Airflow objects' ``ChangedOutside`` unless ``force``.
    """
    the_plan = plan(event)
    newest = db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0
    try:
        _apply(event, the_plan, actor=actor, force=force)
    except Exception:
        db.session.rollback()
        raise
    written = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.reverts_id == event.id, AuditEvent.id > newest).order_by(AuditEvent.id)
    )
    if written is not None:
        return written
    secrets = _secret_keys(event.before) | _secret_keys(event.after)
    row = audit.record_event(
        "revert",
        actor=actor,
        category=event.category,
        object_type=event.object_type,
        object_id=event.object_id,
        server_name=event.server_name,
        before=audit.revealed(event.after),
        after=audit.revealed(event.before),
        secret_keys=secrets,
        detail={"reverted_event": event.id, "kind": the_plan.kind},
        reverts_id=event.id,
    )
    db.session.commit()
    return row


def _apply(event: AuditEvent, the_plan: RevertPlan, *, actor: str, force: bool) -> None:
    """Make the change back (through Airflow or the ORM) and commit it."""
    if the_plan.kind == "airflow":
        module = _airflow_objects()
        if module is None or not hasattr(module, "revert_change"):
            raise CannotRevert(f"Cannot revert this kind of change ({event.object_type}) yet.")
        with audit.reverting(event.id):
            module.revert_change(event, actor=actor, force=force)
        db.session.commit()
        return
    with audit.reverting(event.id):
        _revert_row(event, the_plan.kind)
        db.session.commit()


def _revert_row(event: AuditEvent, kind: str) -> None:
    model = _model(event.object_type)
    pk = _pk(event)
    if kind == "delete":
        db.session.delete(db.session.get(model, pk))
        return
    if kind == "recreate":
        db.session.add(_recreated(model, pk, event))
        return
    row = db.session.get(model, pk)
    table = model.__table__
    collections = {rel.key: rel.mapper.class_ for rel in sa.inspect(model).relationships if rel.secondary is not None}
    for key, value in (audit.revealed(event.before) or {}).items():
        if key in table.c and not table.c[key].primary_key:
            setattr(row, key, _coerce(table.c[key], value))
        elif key in collections:  # recorded as the members' names (a user's roles)
            member = collections[key]
            setattr(row, key, list(db.session.scalars(sa.select(member).where(member.name.in_(value or [])))))


def _recreated(model: Any, pk: Any, event: AuditEvent) -> Any:
    """The deleted row, from its last Continuum version before the delete (or from ``before``)."""
    versions = version_class(model)
    query = sa.select(versions).where(versions.id == pk, versions.operation_type != 2)
    if event.transaction_id is not None:
        query = query.where(versions.transaction_id < event.transaction_id)
    last = db.session.scalar(query.order_by(versions.transaction_id.desc()).limit(1))
    table = model.__table__
    row = model()
    source = {c.name: getattr(last, c.name) for c in table.c if hasattr(last, c.name)} if last is not None else {}
    source.update({k: v for k, v in (audit.revealed(event.before) or {}).items() if k in table.c})
    for key, value in source.items():
        setattr(row, key, _coerce(table.c[key], value))
    if getattr(row, "id", None) is None:
        row.id = pk
    return row


def _coerce(column: Any, value: Any) -> Any:
    """A JSON value back into the column's Python type (datetimes were stored as text)."""
    if value is None:
        return None
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return value
    if kind is datetime and isinstance(value, str):
        return datetime.fromisoformat(value)
    if kind is bool and isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    if kind in (int, float) and isinstance(value, str):
        return kind(value)
    return value


def changed_outside_errors() -> tuple[type[Exception], ...]:
    """The exceptions that mean "changed outside the console since": ask before forcing."""
    module = _airflow_objects()
    theirs = getattr(module, "ChangedOutside", None) if module is not None else None
    return (ChangedOutside, theirs) if isinstance(theirs, type) else (ChangedOutside,)
