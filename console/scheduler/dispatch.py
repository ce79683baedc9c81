"""Turning recorded fires into DAG runs: the recorder and one lane per Airflow server.

* :class:`Recorder` takes fire times from APScheduler's thread, writes them
  as pending ``TaskRun`` rows in batches (one transaction for a whole minute's
  worth of tasks), then wakes the lanes.
* :class:`Lane` triggers the due pending runs of one server with at most
  ``max_concurrent_triggers`` calls in flight (one worker thread per slot:
  the semaphore). Airflow 3.3 standalone on SQLite answers 500 "database is
  locked" to concurrent triggers, so the default is 1.

Workers do nothing unless ``is_leader()`` says so.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from flask import Flask

from console.airflow.errors import AirflowError
from console.extensions import db
from console.models import AirflowServer
from console.models.timeutil import utcnow
from console.security.secrets import SecretUnreadable
from console.services import cron, fires
from console.services.audit import SCHEDULER_ACTOR

log = logging.getLogger(__name__)

#: Runs one worker claims at a time: one claim query per batch instead of per trigger.
BATCH = 10
#: How long the recorder waits before trying again to record fires the database refused (seconds).
RETRY_RECORD_SECONDS = 1.0
#: While idle, a lane refreshes its client and token this often (seconds).
WARM_EVERY = 60.0


class Recorder:
    """Queues fire times (from any thread) and records them in a thread of its own."""

    def __init__(self, app: Flask, is_leader: Callable[[], bool], on_recorded: Callable[[], None]) -> None:
        self.app = app
        self.is_leader = is_leader
        self.on_recorded = on_recorded
        self.queue: queue.Queue[tuple[int, datetime]] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="fire-recorder", daemon=True)
        self.stopping = threading.Event()

    def submit(self, task_id: int, fire_times: Sequence[datetime] = ()) -> None:
        """APScheduler's job callback: queue the fires of ``task_id``."""
        for moment in fire_times:
            self.queue.put((task_id, cron.to_utc_naive(moment)))

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)

    def _run(self) -> None:
        with self.app.app_context():
            while not (self.stopping.is_set() and self.queue.empty()):
                try:
                    first = self.queue.get(timeout=0.5)
                except queue.Empty:
                    continue
                batch = [first]
                while len(batch) < 5_000:
                    try:
                        batch.append(self.queue.get_nowait())
                    except queue.Empty:
                        break
                self._record(batch)

    def _record(self, batch: list[tuple[int, datetime]]) -> None:
        if not self.is_leader():
            log.warning("not the leader any more: dropping %d fires (the new leader catches them up)", len(batch))
            return
        try:
            new = fires.record_fires(fires.Fire(task_id, moment) for task_id, moment in batch)
            db.session.commit()
        except Exception:
            db.session.rollback()
            if self.stopping.is_set():
                log.exception("could not record %d fires while stopping; the next leader catches them up", len(batch))
                return
            # The database is locked or away for a while: keep the fires and try again (recording
            # is idempotent). A leader that stays leader through the outage never runs a catch-up,
            # so a dropped fire would be lost.
            log.exception("could not record %d fires; trying again", len(batch))
            self.stopping.wait(RETRY_RECORD_SECONDS)
            for item in batch:
                self.queue.put(item)
            return
        log.info("recorded %d fires (%d new)", len(batch), new)
        self.on_recorded()


class Lane:
    """Triggers one server's due runs, ``limit`` at a time."""

    def __init__(self, app: Flask, server_id: int, limit: int, is_leader: Callable[[], bool], poll: float) -> None:
        self.app = app
        self.server_id = server_id
        self.limit = max(1, int(limit))
        self.is_leader = is_leader
        self.poll = poll
        self.wakeup = threading.Condition()
        self.stopping = threading.Event()
        self.last_worked = 0.0
        self.threads = [
            threading.Thread(target=self._work, name=f"lane-{server_id}-{n}", daemon=True) for n in range(self.limit)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def wake(self) -> None:
        with self.wakeup:
            self.wakeup.notify_all()

    def stop(self, wait: float = 0.0) -> None:
        """Stop taking work; an attempt in flight finishes (bounded by the client's timeouts)."""
        self.stopping.set()
        self.wake()
        for thread in self.threads:
            thread.join(wait)

    def _work(self) -> None:
        warmed = 0.0
        with self.app.app_context():
            while not self.stopping.is_set():
                worked = False
                try:
                    worked = self.is_leader() and self.work_once()
                    if worked:
                        self.last_worked = time.monotonic()
                    elif time.monotonic() - warmed > WARM_EVERY:
                        self.warm_up()
                        warmed = time.monotonic()
                except Exception:
                    db.session.rollback()
                    log.exception("lane %s: unexpected error; carrying on", self.server_id)
                finally:
                    db.session.remove()
                if not worked:
                    with self.wakeup:
                        self.wakeup.wait(self.poll)

    def warm_up(self) -> None:
        """Build the server's client and fetch its token while idle, so that a fire never waits for them.

        (The first client of a process imports the official Airflow client, which
        takes a second or two; a token costs one more request.) Never raises.
        """
        server = db.session.get(AirflowServer, self.server_id)
        if server is None or not server.enabled:
            return
        with contextlib.suppress(AirflowError, SecretUnreadable):
            fires.client_for(server).log_in()

    def work_once(self, now: datetime | None = None) -> bool:
        """Claim a batch of this server's due runs and attempt them; False when none was due."""
        server = db.session.get(AirflowServer, self.server_id)
        if server is None:
            return False
        claimed = fires.claim_due(self.server_id, now=now or utcnow(), hold=fires.claim_hold(server), limit=BATCH)
        if not claimed:
            return False
        client = fires.client_for(server)
        for item in claimed:
            if self.stopping.is_set() or not self.is_leader():
                break  # the rest stay claimed until their hold expires, then the leader retries them
            fires.attempt(item, client, actor=SCHEDULER_ACTOR)
        return True


class Dispatcher:
    """The lanes of every server, kept in step with the servers table."""

    def __init__(self, app: Flask, is_leader: Callable[[], bool], poll: float) -> None:
        self.app = app
        self.is_leader = is_leader
        self.poll = poll
        self.lanes: dict[int, Lane] = {}

    def sync(self, servers: Sequence[AirflowServer]) -> None:
        """One lane per server (disabled ones too: their runs fail fast with a reason)."""
        wanted = {s.id: max(1, int(s.max_concurrent_triggers or 1)) for s in servers}
        for server_id, lane in list(self.lanes.items()):
            if wanted.get(server_id) != lane.limit:
                lane.stop()
                del self.lanes[server_id]
        for server_id, limit in wanted.items():
            if server_id not in self.lanes:
                lane = Lane(self.app, server_id, limit, self.is_leader, self.poll)
                lane.start()
                self.lanes[server_id] = lane

    def wake(self) -> None:
        for lane in list(self.lanes.values()):
            lane.wake()

    def busy(self, within: float) -> bool:
        """Whether any lane triggered something in the last ``within`` seconds."""
        latest = max((lane.last_worked for lane in list(self.lanes.values())), default=0.0)
        return time.monotonic() - latest < within

    def stop(self, wait: float = 0.0) -> None:
        for lane in self.lanes.values():
            lane.stop(wait)
        self.lanes.clear()
