"""Leader election through one ``scheduler_lease`` row, on SQLite and PostgreSQL.

The algorithm, all in one short transaction:

1. ``UPDATE scheduler_lease SET holder=:me, expires_at=:now+ttl
   WHERE name=:name AND (holder=:me OR expires_at < :now)`` -- renews our own
   lease, or takes over an expired one. The database serialises concurrent
   updates of the row (SQLite: one writer; PostgreSQL: the row lock, and the
   ``WHERE`` is re-checked after waiting for it), so at most one contender
   sees ``rowcount == 1``.
2. If no row matched and none exists yet, ``INSERT`` it: the primary key
   lets exactly one of several first-timers win; the others get an
   ``IntegrityError`` and are followers.

A leader that stops renewing is replaced after ``ttl``; clocks of the hosts
running schedulers must agree (NTP) to well within ``ttl``. Being the leader
is an optimisation, not the safety net: fires stay exactly-once even if two
processes believed they led, thanks to the unique ``TaskRun`` rows and
deterministic run ids (see ``console.services.fires``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa

from console.extensions import db
from console.models import SchedulerLease

LEASE_NAME = "scheduler"


def acquire(holder: str, *, now: datetime, ttl: timedelta, name: str = LEASE_NAME) -> bool:
    """Take or renew the lease ``name`` for ``holder``; True if ``holder`` leads until ``now + ttl``.

    Commits (or rolls back) its own transaction; database errors propagate.
    """
    expires = now + ttl
    try:
        result = db.session.execute(
            sa.update(SchedulerLease)
            .where(
                SchedulerLease.name == name,
                sa.or_(SchedulerLease.holder == holder, SchedulerLease.expires_at < now),
            )
            .values(
                holder=holder,
                expires_at=expires,
                acquired_at=sa.case((SchedulerLease.holder == holder, SchedulerLease.acquired_at), else_=now),
            )
            .execution_options(synchronize_session=False)
        )
        if cast(sa.CursorResult[Any], result).rowcount == 1:
            db.session.commit()
            return True
        exists = db.session.scalar(sa.select(sa.func.count()).where(SchedulerLease.name == name))
        if exists:
            db.session.commit()
            return False
        db.session.add(SchedulerLease(name=name, holder=holder, acquired_at=now, expires_at=expires))
        db.session.commit()
        return True
    except sa.exc.IntegrityError:
        db.session.rollback()
        return False
    except BaseException:
        db.session.rollback()
        raise


def release(holder: str, *, now: datetime, name: str = LEASE_NAME) -> None:
    """Give the lease up at once (a clean shutdown), so a follower can take over without waiting."""
    db.session.execute(
        sa.update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=now - timedelta(seconds=1))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def current_holder(*, now: datetime, name: str = LEASE_NAME) -> str | None:
    """Who holds an unexpired lease, if anyone."""
    lease = db.session.scalars(
        sa.select(SchedulerLease).where(SchedulerLease.name == name).execution_options(populate_existing=True)
    ).first()
    if lease is None or lease.expires_at < now:
        return None
    return lease.holder
