"""The scheduler process (``python manage.py scheduler``): who does what, in which thread.

* main thread -- every ``SCHEDULER_POLL_SECONDS``: take or renew the leader
  lease; as leader, reconcile the APScheduler jobs with the tasks table and
  catch up the fires of new or changed tasks (all of them on becoming
  leader: that is the misfire handling after downtime); write the heartbeat.
* APScheduler's thread -- timing only: hands each fire time to the recorder.
* recorder -- writes fires as pending ``TaskRun`` rows, wakes the lanes.
* one lane per Airflow server -- triggers due runs, ``max_concurrent_triggers``
  at a time, retrying with backoff (see ``console.services.fires``).
* monitor -- follows triggered runs to their end and sends alerts.
* audit-purge -- started by the leader once every ``AUDIT_PURGE_EVERY_SECONDS``: deletes the
  audit rows older than the retention (``console.services.audit_retention``), in batches.

A follower runs only the main thread's lease and heartbeat steps, and takes
over within ``SCHEDULER_LEASE_SECONDS`` when the leader dies. Web workers
never build one of these.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from console.extensions import db
from console.models import AirflowServer, SchedulerHeartbeat, Task
from console.models.timeutil import utcnow
from console.scheduler import lease, misfire, monitor
from console.scheduler.dispatch import Dispatcher, Lane, Recorder
from console.scheduler.reconcile import Reconciler, RecordingExecutor
from console.services import audit_retention, settings
from console.services.audit import SCHEDULER_ACTOR
from console.versioning import acting_as

log = logging.getLogger(__name__)

ACTOR = SCHEDULER_ACTOR
#: Longest time the monitor waits for a burst of triggers to end before following runs anyway.
MONITOR_MAX_DEFER = 60.0


class Leadership:
    """Whether this process may act as leader: true until shortly before its lease would expire."""

    def __init__(self, ttl: float, margin: float) -> None:
        self.ttl = ttl
        self.margin = min(margin, ttl / 2)
        self._valid_until = 0.0

    def renewed(self, at: float) -> None:
        """The lease was renewed by a transaction that started at monotonic time ``at``."""
        self._valid_until = at + self.ttl - self.margin

    def lost(self) -> None:
        self._valid_until = 0.0

    def __call__(self) -> bool:
        return time.monotonic() < self._valid_until


class SchedulerProcess:
    """One scheduler instance; :meth:`run` until ``stop`` is set, or :meth:`run_once`."""

    def __init__(self, app: Flask, instance_id: str | None = None) -> None:
        config = app.config
        self.app = app
        self.instance_id = instance_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.poll = float(config["SCHEDULER_POLL_SECONDS"])
        self.ttl = timedelta(seconds=float(config["SCHEDULER_LEASE_SECONDS"]))
        self.heartbeat_every = float(config["SCHEDULER_HEARTBEAT_SECONDS"])
        self.monitor_every = float(config["SCHEDULER_MONITOR_SECONDS"])
        self.grace = timedelta(seconds=float(config["SCHEDULER_MISFIRE_GRACE_SECONDS"]))
        self.max_missed = int(config["SCHEDULER_MAX_MISSED_RECORDED"])
        self.leadership = Leadership(self.ttl.total_seconds(), margin=2 * self.poll)
        self.leading = False
        self.started_at = utcnow()
        self._last_beat = 0.0
        self._stop = threading.Event()
        self.apscheduler = BackgroundScheduler(timezone=UTC, executors={"default": RecordingExecutor()})
        self.dispatcher = Dispatcher(app, self.leadership, self.poll)
        self.recorder = Recorder(app, self.leadership, self.dispatcher.wake)
        self.reconciler = Reconciler(self.apscheduler, self.recorder.submit)
        self.monitor_thread = threading.Thread(target=self._monitor_loop, name="monitor", daemon=True)
        self.purge_every = float(config["AUDIT_PURGE_EVERY_SECONDS"])
        self._last_purge: float | None = None
        self.purge_thread: threading.Thread | None = None

    # -- the long-running process --------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set (SIGTERM/SIGINT), then shut down cleanly and give up the lease."""
        self._stop = stop
        with self.app.app_context(), acting_as(ACTOR):
            log.info(
                "scheduler %s starting (poll %.1f s, lease %.0f s)",
                self.instance_id,
                self.poll,
                self.ttl.total_seconds(),
            )
            self.apscheduler.start()
            self.recorder.start()
            self.monitor_thread.start()
            try:
                while not stop.is_set():
                    self.tick()
                    stop.wait(self.poll)
            finally:
                self._shutdown()

    def tick(self) -> None:
        """One main-thread step: lease, (as leader) reconcile and catch up, heartbeat. Never raises."""
        started = time.monotonic()
        settings.check_now()  # settings an admin changed apply from this tick on
        try:
            leader = lease.acquire(self.instance_id, now=utcnow(), ttl=self.ttl)
            if leader:
                self.leadership.renewed(started)
        except sa.exc.SQLAlchemyError as exc:
            db.session.rollback()
            log.error("cannot reach the database to renew the lease: %s", exc)
            # Lead on only while the lease last written still holds: another scheduler may take
            # it once it lapses, so a renewal that failed must never extend it.
            leader = self.leading and self.leadership()
        if leader and not self.leading:
            log.info("scheduler %s is now the leader", self.instance_id)
            self.leading = True
        elif not leader and self.leading:
            log.warning("scheduler %s lost the lead; stopping its jobs", self.instance_id)
            self._step_down()
        if self.leading:
            self._guarded(self._reconcile)
            self.purge_if_due(started)
        if started - self._last_beat >= self.heartbeat_every:
            self._guarded(self._beat)
            self._last_beat = started

    def _guarded(self, step: Callable[[], object]) -> None:
        try:
            step()
        except Exception:
            db.session.rollback()
            log.exception("scheduler step %s failed; carrying on", getattr(step, "__name__", step))

    def _reconcile(self) -> None:
        began = utcnow()  # before sync (re)starts any job: see misfire.catch_up's ``before``
        result = self.reconciler.sync()
        if result.fresh:
            new = misfire.catch_up(
                result.fresh, now=utcnow(), grace=self.grace, max_missed=self.max_missed, before=began
            )
            db.session.commit()
            if new:
                log.info("caught up %d fires of %d new or changed tasks", new, len(result.fresh))
        self.dispatcher.sync(list(db.session.scalars(sa.select(AirflowServer))))
        db.session.rollback()  # end the read transaction
        self.dispatcher.wake()

    def purge_if_due(self, now: float) -> threading.Thread | None:
        """As leader, start the audit purge in its own thread when a day (``purge_every``) has passed."""
        running = self.purge_thread is not None and self.purge_thread.is_alive()
        if running or (self._last_purge is not None and now - self._last_purge < self.purge_every):
            return None
        self._last_purge = now
        self.purge_thread = threading.Thread(target=self._purge, name="audit-purge", daemon=True)
        self.purge_thread.start()
        return self.purge_thread

    def _purge(self) -> None:
        with self.app.app_context(), acting_as(ACTOR):
            try:
                audit_retention.purge(actor=ACTOR)
            except Exception:
                db.session.rollback()
                log.exception("audit purge failed; it runs again in %.0f s", self.purge_every)
            finally:
                db.session.remove()

    def _step_down(self) -> None:
        self.leading = False
        self.leadership.lost()
        self.reconciler.clear()

    def _beat(self) -> None:
        now = utcnow()
        beat = db.session.get(SchedulerHeartbeat, self.instance_id)
        if beat is None:
            beat = SchedulerHeartbeat(
                instance_id=self.instance_id, hostname=socket.gethostname(), pid=os.getpid(), started_at=self.started_at
            )
            db.session.add(beat)
        beat.is_leader = self.leading
        beat.beat_at = now
        if self.leading:  # a leader that died keeps its flag: only the living leader is the leader
            db.session.execute(
                sa.update(SchedulerHeartbeat)
                .where(SchedulerHeartbeat.instance_id != self.instance_id, SchedulerHeartbeat.is_leader.is_(True))
                .values(is_leader=False)
            )
        db.session.execute(sa.delete(SchedulerHeartbeat).where(SchedulerHeartbeat.beat_at < now - timedelta(days=1)))
        db.session.commit()

    def _monitor_loop(self) -> None:
        """Follow runs every ``monitor_every`` s; while triggers are being sent, give them the
        server (a burst of fires is triggered first, followed after), but never for longer than
        ``MONITOR_MAX_DEFER`` s."""
        deferred_since: float | None = None
        with self.app.app_context(), acting_as(ACTOR):
            while not self._stop.wait(self.monitor_every):
                now = time.monotonic()
                deferred_for = now - (deferred_since or now)
                if self.dispatcher.busy(within=self.monitor_every) and deferred_for < MONITOR_MAX_DEFER:
                    deferred_since = deferred_since or now
                    continue
                deferred_since = None
                if self.leadership():
                    monitor.monitor_pass()
                db.session.remove()

    def _shutdown(self) -> None:
        log.info("scheduler %s shutting down", self.instance_id)
        self.apscheduler.shutdown(wait=False)
        self.recorder.stop()
        self.dispatcher.stop(wait=5.0)
        self.monitor_thread.join(5.0)
        if self.purge_thread is not None:
            self.purge_thread.join(5.0)
        was_leading, self.leading = self.leading, False
        self.leadership.lost()
        try:
            if was_leading:
                lease.release(self.instance_id, now=utcnow())
            self._beat()
        except sa.exc.SQLAlchemyError as exc:
            db.session.rollback()
            log.error("could not release the lease on shutdown: %s", exc)
        log.info("scheduler %s stopped", self.instance_id)

    # -- one pass, for `--once` and tests ------------------------------------

    def run_once(self, now: datetime | None = None) -> bool:
        """Lead for one pass without threads: catch up, trigger everything due, follow runs, alert.

        Returns False (doing nothing but the heartbeat) when another scheduler leads.
        """
        with self.app.app_context(), acting_as(ACTOR):
            now = now or utcnow()
            if not lease.acquire(self.instance_id, now=now, ttl=self.ttl):
                self._beat()
                return False
            self.leading = True
            self.leadership.renewed(time.monotonic())
            tasks = list(db.session.scalars(sa.select(Task).where(Task.enabled.is_(True))))
            misfire.catch_up(tasks, now=now, grace=self.grace, max_missed=self.max_missed)
            db.session.commit()
            for server in list(db.session.scalars(sa.select(AirflowServer))):
                lane = Lane(self.app, server.id, 1, self.leadership, self.poll)
                while lane.work_once():
                    pass
            monitor.monitor_pass()
            self.leading = False
            self.leadership.lost()
            lease.release(self.instance_id, now=utcnow())
            self._beat()
            return True
