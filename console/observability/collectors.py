"""Numbers read from the database when ``/metrics`` is scraped.

Whichever web worker answers the scrape reports the same truth: the scheduler's leader
and heartbeats, the job worker's heartbeats, fires waiting for a retry, the recent fire
delay and the jobs by state (the queue depth is ``console_jobs{state="queued"}``). A
database that cannot be read gives ``console_metrics_database_up 0`` and nothing else
from here, never a failed scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from console.extensions import db
from console.models import FireState, Job, JobState, SchedulerHeartbeat, SchedulerLease, TaskRun, WorkerHeartbeat
from console.models.timeutil import utcnow
from console.scheduler.lease import LEASE_NAME

log = logging.getLogger(__name__)
#: The window of fires whose delay ``console_scheduler_recent_fire_delay_seconds`` reports.
RECENT_FIRES = timedelta(minutes=15)


class DatabaseCollector(Collector):
    """The gauges above, read in one short session per scrape (call inside an app context)."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("console_metrics_database_up", "1 when the scrape could read the database.")
        try:
            metrics = list(self._read())
        except SQLAlchemyError as exc:
            db.session.rollback()
            log.warning("metrics: cannot read the database (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _read(self) -> Iterator[Metric]:
        now = utcnow()
        lease = db.session.get(SchedulerLease, LEASE_NAME)
        leader = GaugeMetricFamily(
            "console_scheduler_leader", "1 while a scheduler holds an unexpired leader lease.", labels=["holder"]
        )
        lease_left = GaugeMetricFamily(
            "console_scheduler_lease_remaining_seconds", "Seconds until the leader's lease expires (negative: expired)."
        )
        current = lease is not None and lease.expires_at > now
        leader.add_metric([lease.holder if lease is not None and current else ""], 1 if current else 0)
        lease_left.add_metric([], (lease.expires_at - now).total_seconds() if lease is not None else -1)
        yield leader
        yield lease_left

        beats = GaugeMetricFamily(
            "console_scheduler_heartbeat_age_seconds",
            "Seconds since each scheduler process last beat.",
            labels=["instance", "leader"],
        )
        for row in db.session.scalars(sa.select(SchedulerHeartbeat)):
            beats.add_metric([row.instance_id, str(row.is_leader).lower()], (now - row.beat_at).total_seconds())
        yield beats
        workers = GaugeMetricFamily(
            "console_worker_heartbeat_age_seconds", "Seconds since each job worker last beat.", labels=["instance"]
        )
        for worker in db.session.scalars(sa.select(WorkerHeartbeat)):
            workers.add_metric([worker.instance_id], (now - worker.beat_at).total_seconds())
        yield workers

        retries = db.session.scalar(
            sa.select(sa.func.count()).where(TaskRun.state == FireState.PENDING, TaskRun.attempts > 0)
        )
        pending = "Fires that failed to trigger and wait for a retry."
        yield GaugeMetricFamily("console_scheduler_pending_retries", pending, value=retries or 0)
        delay = GaugeMetricFamily(
            "console_scheduler_recent_fire_delay_seconds",
            "Delay between scheduled time and trigger of the scheduled fires triggered in the last 15 minutes.",
            labels=["stat"],
        )
        recent = db.session.execute(
            sa.select(TaskRun.scheduled_for, TaskRun.triggered_at).where(
                TaskRun.kind == "scheduled", TaskRun.triggered_at >= now - RECENT_FIRES
            )
        ).all()
        delays = [max(0.0, (fired - scheduled).total_seconds()) for scheduled, fired in recent]
        delay.add_metric(["max"], max(delays, default=0.0))
        delay.add_metric(["mean"], sum(delays) / len(delays) if delays else 0.0)
        delay.add_metric(["count"], len(delays))
        yield delay

        jobs = GaugeMetricFamily("console_jobs", "Background jobs by state (queued: queue depth).", labels=["state"])
        rows = db.session.execute(sa.select(Job.state, sa.func.count()).group_by(Job.state)).all()
        counts: dict[str, int] = {str(state): int(n) for state, n in rows}
        for state in JobState:
            jobs.add_metric([state.value], counts.get(state.value, 0))
        yield jobs
        db.session.rollback()  # end the read transaction


#: Every metric name the collector can show (the dashboard test checks its queries against it).
NAMES = (
    "console_metrics_database_up",
    "console_scheduler_leader",
    "console_scheduler_lease_remaining_seconds",
    "console_scheduler_heartbeat_age_seconds",
    "console_worker_heartbeat_age_seconds",
    "console_scheduler_pending_retries",
    "console_scheduler_recent_fire_delay_seconds",
    "console_jobs",
)
