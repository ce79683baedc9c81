"""Audit retention: the only deletion of audit rows, run by the scheduler's leader once a day.

:func:`purge` deletes, in batches of ``AUDIT_PURGE_BATCH`` rows, each in its own short transaction:

* audit events older than :func:`audit_retention_days` (except one a kept event reverts, so
  a kept revert still names what it undid);
* Continuum versions superseded before the cutoff (a row's current version is kept however old,
  so every row keeps its history's starting point), and the transactions no version names any more.

The purge records itself: one ``audit.purge`` event (category ``system``) with the cutoff and
the number of rows deleted per table, committed after the deletions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy_continuum import versioning_manager

from console.extensions import db
from console.models import AuditEvent, Transaction
from console.models.timeutil import utcnow
from console.services import audit

log = logging.getLogger(__name__)


def audit_retention_days() -> int:
    """Days an audit row is kept (0: forever): the settings page's value, read in one place."""
    from console.services import settings

    return settings.audit_retention_days()


@dataclass
class PurgeReport:
    cutoff: datetime
    retention_days: int
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def version_tables() -> list[sa.Table]:
    """Every Continuum version table (models' and many-to-many associations')."""
    tables = {cls.__table__.name: cls.__table__ for cls in versioning_manager.version_class_map.values()}
    tables.update({t.name: t for t in versioning_manager.association_version_tables})
    return [tables[name] for name in sorted(tables)]


def _old_events(cutoff: datetime) -> sa.ColumnElement[bool]:
    kept_reverts = sa.select(AuditEvent.reverts_id).where(AuditEvent.at >= cutoff, AuditEvent.reverts_id.is_not(None))
    return sa.and_(AuditEvent.at < cutoff, AuditEvent.id.not_in(kept_reverts))


def _last_old_transaction(cutoff: datetime) -> int:
    return int(db.session.scalar(sa.select(sa.func.max(Transaction.id)).where(Transaction.issued_at < cutoff)) or 0)


def _superseded(table: sa.Table, last_tx: int) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.end_transaction_id.is_not(None), table.c.end_transaction_id <= last_tx)


def _unused_transactions(last_tx: int) -> sa.ColumnElement[bool]:
    used = [sa.exists().where(table.c.transaction_id == Transaction.id) for table in version_tables()]
    return sa.and_(Transaction.id <= last_tx, *[sa.not_(u) for u in used])


def _targets(cutoff: datetime) -> list[tuple[sa.Table, sa.ColumnElement[bool]]]:
    last_tx = _last_old_transaction(cutoff)
    targets: list[tuple[sa.Table, sa.ColumnElement[bool]]] = [(AuditEvent.__table__, _old_events(cutoff))]
    if last_tx:
        targets += [(table, _superseded(table, last_tx)) for table in version_tables()]
        targets.append((Transaction.__table__, _unused_transactions(last_tx)))
    return targets


def _delete_in_batches(table: sa.Table, where: sa.ColumnElement[bool], batch: int) -> int:
    """Delete the rows of ``table`` matching ``where``, newest key first, ``batch`` at a time."""
    key = list(table.primary_key.columns)
    deleted = 0
    while True:
        rows = db.session.execute(sa.select(*key).where(where).order_by(*[c.desc() for c in key]).limit(batch)).all()
        if not rows:
            return deleted
        match = key[0].in_([r[0] for r in rows]) if len(key) == 1 else sa.tuple_(*key).in_([tuple(r) for r in rows])
        db.session.execute(sa.delete(table).where(match))
        db.session.commit()
        deleted += len(rows)


def purge(*, actor: str = audit.SCHEDULER_ACTOR, now: datetime | None = None, dry_run: bool = False) -> PurgeReport:
    """Delete what is older than the retention; record (unless ``dry_run``, which only counts) one event."""
    days = audit_retention_days()
    report = PurgeReport(cutoff=(now or utcnow()) - timedelta(days=days), retention_days=days)
    if days <= 0:  # "kept forever": nothing is purged, and there is nothing to record
        return report
    batch = int(current_app.config.get("AUDIT_PURGE_BATCH", 5000))
    for table, where in _targets(report.cutoff):
        if dry_run:
            report.deleted[table.name] = int(db.session.scalar(sa.select(sa.func.count()).where(where)) or 0)
        else:
            report.deleted[table.name] = _delete_in_batches(table, where, batch)
    if dry_run:
        db.session.rollback()
        return report
    audit.record_event(
        "audit.purge",
        actor=actor,
        category="system",
        object_type="audit_event",
        detail={"cutoff": report.cutoff.isoformat(), "retention_days": days, "deleted": report.deleted},
    )
    db.session.commit()
    log.info("audit purge: %d rows older than %s deleted %s", report.total, report.cutoff, report.deleted)
    return report
