"""A leader that cannot renew its lease (the database locked or unreachable) leads on only until
the lease it last wrote lapses, then steps down: another scheduler may take the lapsed lease, and
two leaders would fire every task twice."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from console.scheduler import lease
from console.scheduler import process as scheduler_process
from console.scheduler.process import SchedulerProcess


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(scheduler_process.time, "monotonic", clock)
    return clock


def unreachable(*_args: object, **_kwargs: object) -> bool:
    raise sa.exc.OperationalError("UPDATE scheduler_lease", {}, Exception("database is locked"))


def test_a_leader_that_cannot_renew_steps_down_when_its_lease_lapses(
    app_factory: Callable[..., Flask], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_factory(SCHEDULER_LEASE_SECONDS=30, SCHEDULER_POLL_SECONDS=1)
    scheduler = SchedulerProcess(app, instance_id="leadership-test")
    with app.app_context():
        scheduler.tick()
        assert scheduler.leading
        monkeypatch.setattr(lease, "acquire", unreachable)
        clock.now += 20  # inside the lease (30 s, less a 2-poll margin): still the leader
        scheduler.tick()
        assert scheduler.leading
        clock.now += 9  # 29 s after the last renewal: the lease is about to lapse
        scheduler.tick()
        assert not scheduler.leading


def test_a_renewal_that_succeeds_extends_the_lead(app_factory: Callable[..., Flask], clock: Clock) -> None:
    app = app_factory(SCHEDULER_LEASE_SECONDS=30, SCHEDULER_POLL_SECONDS=1)
    scheduler = SchedulerProcess(app, instance_id="leadership-test")
    with app.app_context():
        for _ in range(5):
            scheduler.tick()
            assert scheduler.leading
            clock.now += 20
