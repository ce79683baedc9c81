"""Every change to a versioned row also writes one audit event, with only the changed fields.

Continuum keeps the full versions; the audit page reads one table, so each insert, update or
delete of a model with ``__versioned__`` (tasks, servers, users, roles, settings, ...) adds one
:class:`~console.models.AuditEvent` per object and transaction: category ``console``, action
``<table>.create|update|delete``, ``before``/``after`` holding the changed fields only (a
create has no ``before``, a delete no ``after``), the Continuum ``transaction_id``, the actor of
:func:`console.versioning.current_actor` and the revert of :func:`audit.current_revert`.

A secret column (a password hash, a session uniquifier, any ``*_ciphertext``, ...: see
:func:`is_secret`) never appears with its value: a change to it shows as ``"changed"``
(``"set"`` on a create or delete). Other columns left out of the versions (sign-in
bookkeeping such as ``last_login_at``) are left out here too, so signing in is no row change.
A many-to-many collection (a user's roles) shows as the sorted list of its members' names.

Changes are gathered after each flush (before and after a flush, while the old values are
still in the database) and written just before the commit, in the same transaction; a
rollback forgets them. :func:`covered` lets an explicit event (a password change) stand for
a secret-only change of an object, so that one action leaves one record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy_continuum import versioning_manager

from console.services import audit
from console.versioning import current_actor

#: Secret columns whatever the model says: never shown, a change shows as :data:`CHANGED`.
SECRET_NAMES = frozenset(
    {
        "password",
        "fs_uniquifier",
        "fs_token_uniquifier",
        "tf_totp_secret",
        "us_totp_secrets",
        "tf_recovery_codes",
        "mf_recovery_codes",
        "fs_webauthn_user_handle",
    }
)
SECRET_SUFFIXES = ("_ciphertext", "_secret", "_secrets", "_token", "_hash")
#: Columns that change on every save and say nothing about it.
NOISE = frozenset({"updated_at"})
CHANGED = "changed"
SET = "set"
_PENDING = "console_audit_changes"
_COVERED = "console_audit_covered"
_OLD = "console_audit_old"


def is_secret(column: str) -> bool:
    return column in SECRET_NAMES or column.endswith(SECRET_SUFFIXES)


@dataclass
class Change:
    """What one transaction did to one row, so far."""

    table: str
    object_id: str
    op: str  # create | update | delete
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    transaction_id: int | None = None

    def merge(self, op: str, before: dict[str, Any], after: dict[str, Any]) -> None:
        """Fold a later flush's change in: the first ``before`` and the last ``after`` win."""
        if op == "delete":
            self.op = "delete" if self.op != "create" else "gone"
        for key, value in before.items():
            self.before.setdefault(key, value)
        self.after.update(after)

    def diff(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        if self.op == "create":
            return None, self.after
        if self.op == "delete":
            return self.before, None
        keys = [k for k in self.after if self.before.get(k) != self.after[k]]
        return {k: self.before.get(k) for k in keys}, {k: self.after[k] for k in keys}


def _versioned(obj: Any) -> bool:
    return hasattr(type(obj), "__versioned__")


def _columns(obj: Any) -> list[str]:
    """The column attributes of ``obj`` an audit diff may name (secret ones included, as markers)."""
    excluded = set(getattr(type(obj), "__versioned__", {}).get("exclude", ()))
    mapper = sa.inspect(type(obj))
    return [
        prop.key
        for prop in mapper.column_attrs
        if prop.key not in NOISE and (prop.key not in excluded or is_secret(prop.key))
    ]


def _collections(obj: Any) -> list[str]:
    """Many-to-many collections shown as lists of names (a user's roles)."""
    mapper = sa.inspect(type(obj))
    return [
        rel.key
        for rel in mapper.relationships
        if rel.secondary is not None and rel.lazy != "dynamic" and rel.direction.name == "MANYTOMANY"
    ]


def _shown(column: str, value: Any, marker: str) -> Any:
    if is_secret(column):
        return marker if value not in (None, "") else None
    return value


def _names(items: Any) -> list[str]:
    return sorted(str(item) for item in items or ())


def _identity(obj: Any) -> str:
    """The primary key as text, read from the loaded state (a new row's key is not registered yet)."""
    state = sa.inspect(obj)
    keys = [state.mapper.get_property_by_column(col).key for col in state.mapper.primary_key]
    return "/".join(str(state.dict.get(key)) for key in keys)


def _snapshot(obj: Any, marker: str) -> dict[str, Any]:
    state = sa.inspect(obj)
    values = {col: _shown(col, state.dict.get(col), marker) for col in _columns(obj)}
    values.update({rel: _names(getattr(obj, rel)) for rel in _collections(obj)})
    return values


def _old_values(session: Session, obj: Any, columns: list[str]) -> dict[str, Any]:
    """The stored values of ``columns`` (before this flush writes them), read without autoflush."""
    mapper = sa.inspect(type(obj))
    state = sa.inspect(obj)
    where = [col == state.dict.get(mapper.get_property_by_column(col).key) for col in mapper.primary_key]
    selected = [mapper.get_property(c).columns[0] for c in columns]
    row = session.connection().execute(sa.select(*selected).where(*where)).first()
    return dict(zip(columns, row, strict=True)) if row is not None else {}


def _update(session: Session, obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The changed fields of a persistent ``obj`` about to be flushed: (before, after)."""
    state = sa.inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    unknown: list[str] = []
    for col in _columns(obj):
        history = state.attrs[col].history
        if not history.added:
            continue
        if is_secret(col):
            before[col], after[col] = audit.MASK, CHANGED
        elif history.deleted:
            before[col], after[col] = history.deleted[0], history.added[0]
        else:
            unknown.append(col)
            after[col] = history.added[0]
    if unknown:
        before.update(_old_values(session, obj, unknown))
    for rel in _collections(obj):
        history = state.attrs[rel].history
        if history.added or history.deleted:
            before[rel] = _names([*history.unchanged, *history.deleted])
            after[rel] = _names([*history.unchanged, *history.added])
    return before, after


def before_flush(session: Session, _context: Any, _instances: Any) -> None:
    """Note the old values of rows this flush changes or deletes, while the database still has them."""
    old: dict[int, tuple[str, dict[str, Any], dict[str, Any]]] = session.info.setdefault(_OLD, {})
    for obj in session.dirty:
        if _versioned(obj) and session.is_modified(obj):
            before, after = _update(session, obj)
            if after:
                old[id(obj)] = ("update", before, after)
    for obj in session.deleted:
        if _versioned(obj):
            old[id(obj)] = ("delete", _snapshot(obj, SET), {})


def after_flush(session: Session, _context: Any) -> None:
    """Fold this flush's changes into the transaction's, keyed by row."""
    old = session.info.pop(_OLD, {})
    pending: dict[tuple[str, str], Change] = session.info.setdefault(_PENDING, {})
    changed: list[tuple[Any, str, dict[str, Any], dict[str, Any]]]
    changed = [(obj, "create", {}, _snapshot(obj, SET)) for obj in session.new if _versioned(obj)]
    changed += [(obj, *old[id(obj)]) for obj in [*session.dirty, *session.deleted] if id(obj) in old]
    if not changed:
        return
    transaction = versioning_manager.unit_of_work(session).current_transaction
    for obj, op, before, after in changed:
        key = (type(obj).__tablename__, _identity(obj))
        change = pending.get(key)
        if change is None:
            pending[key] = Change(key[0], key[1], op, dict(before), dict(after))
        else:
            change.merge(op, before, after)
        if transaction is not None and pending[key].transaction_id is None:
            pending[key].transaction_id = transaction.id


def covered(obj: Any) -> None:
    """An explicit event records this object's secret-only change (a password change): no row event."""
    session = sa.orm.object_session(obj)
    if session is not None:
        session.info.setdefault(_COVERED, set()).add((type(obj).__tablename__, _identity(obj)))


def before_commit(session: Session) -> None:
    """Write one event per changed row, in the transaction being committed."""
    session.flush()
    pending: dict[tuple[str, str], Change] = session.info.pop(_PENDING, {})
    covered_keys = session.info.pop(_COVERED, set())
    if not pending:
        return
    _user_id, actor = current_actor()
    for key, change in pending.items():
        if change.op == "gone":
            continue
        before, after = change.diff()
        if change.op == "update" and not after:
            continue
        if key in covered_keys and all(is_secret(k) for k in after or {}):
            continue
        audit.record_event(
            f"{change.table}.{change.op}",
            actor=actor,
            category="console",
            object_type=change.table,
            object_id=change.object_id,
            before=before,
            after=after,
            transaction_id=change.transaction_id,
        )


def forget(session: Session) -> None:
    """A rollback: nothing gathered so far happened."""
    for key in (_PENDING, _COVERED, _OLD):
        session.info.pop(key, None)


def install() -> None:
    """Listen on every session (once per process)."""
    for name, listener in (
        ("before_flush", before_flush),
        ("after_flush", after_flush),
        ("before_commit", before_commit),
        ("after_rollback", forget),
    ):
        if not sa.event.contains(Session, name, listener):
            sa.event.listen(Session, name, listener)
