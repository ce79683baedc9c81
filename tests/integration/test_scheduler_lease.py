"""The leader lease on SQLite and PostgreSQL: renew, expire, take over, and races between contenders."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from console import create_app
from console.extensions import db
from console.models import SchedulerLease
from console.scheduler import lease
from tests.conftest import base_config, empty_database

pytestmark = pytest.mark.integration

TTL = timedelta(seconds=30)
T0 = datetime(2026, 6, 1, 12, 0, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_app(request: pytest.FixtureRequest, app_factory: Callable[..., Flask]) -> Iterator[Flask]:
    if request.param == "sqlite":
        yield app_factory()
        return
    app = create_app(base_config(request.getfixturevalue("pg_url")))
    yield app
    empty_database(app)
    with app.app_context():
        db.engine.dispose()


def acquire(app: Flask, holder: str, now: datetime) -> bool:
    with app.app_context():
        return lease.acquire(holder, now=now, ttl=TTL)


def test_one_holder_renews_until_it_lapses_then_another_takes_over(database_app: Flask) -> None:
    app = database_app
    assert acquire(app, "a", T0) is True
    assert acquire(app, "b", T0 + timedelta(seconds=1)) is False
    assert acquire(app, "a", T0 + timedelta(seconds=20)) is True  # renewed: now valid until T0+50 s
    assert acquire(app, "b", T0 + timedelta(seconds=45)) is False
    assert acquire(app, "b", T0 + timedelta(seconds=51)) is True  # a stopped renewing
    assert acquire(app, "a", T0 + timedelta(seconds=52)) is False
    with app.app_context():
        row = db.session.get(SchedulerLease, lease.LEASE_NAME)
        taken = T0 + timedelta(seconds=51)
        assert (row.holder, row.acquired_at, row.expires_at) == ("b", taken, taken + TTL)
        assert lease.current_holder(now=T0 + timedelta(seconds=60)) == "b"


def test_release_hands_over_at_once(database_app: Flask) -> None:
    app = database_app
    assert acquire(app, "a", T0) is True
    with app.app_context():
        lease.release("b", now=T0)  # not the holder: no effect
        assert lease.current_holder(now=T0) == "a"
        lease.release("a", now=T0 + timedelta(seconds=1))
    assert acquire(app, "b", T0 + timedelta(seconds=1)) is True


def race(app: Flask, contenders: int, now: datetime) -> list[str]:
    """``contenders`` threads try to acquire at the same instant; returns the winners."""
    barrier = threading.Barrier(contenders)
    winners: list[str] = []
    errors: list[BaseException] = []

    def contend(name: str) -> None:
        try:
            with app.app_context():
                barrier.wait()
                if lease.acquire(name, now=now, ttl=TTL):
                    winners.append(name)
                db.session.remove()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=contend, args=(f"c{i}",)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return winners


def test_racing_contenders_elect_exactly_one_leader(database_app: Flask) -> None:
    app = database_app
    assert len(race(app, 6, T0)) == 1  # first ever: the INSERT race
    for round_ in range(1, 6):  # then the lease lapses again and again: the UPDATE race
        now = T0 + round_ * (TTL + timedelta(seconds=1))
        winners = race(app, 6, now)
        assert len(winners) == 1, (round_, winners)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SchedulerLease)) == 1


def test_the_postgres_fixture_is_really_postgres(pg_url: str) -> None:
    app = create_app(base_config(pg_url))
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        assert db.session.execute(sa.text("SELECT count(*) FROM scheduler_lease")).scalar() == 0  # migrated, empty
        db.session.remove()
        db.engine.dispose()
