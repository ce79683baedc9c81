"""Following triggered runs in Airflow until they finish.

Each pass groups the runs in state 'triggered' by (server, DAG). A group of
a few runs is read one run at a time; a big group (a thousand tasks fired
in the same minute) costs one request for the DAG's most recently finished
runs plus a handful of single reads, so the monitor never floods the server
the triggers are queued for. A finished run records Airflow's state, end
time and duration; the task run becomes 'success' or 'failed'. A run Airflow
no longer has is failed with that reason. Failed runs are alerted by
:func:`console.services.alerts.send_pending_alerts`, which each pass calls, and the logs of
their failed tasks are read into the log cache in the background (:class:`LogWarmer`), so that
the person the alert sends there finds the log open at once.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, current_app

from console.airflow.client import AirflowClient, DagRun
from console.airflow.errors import AirflowError, AirflowNotFound
from console.extensions import db
from console.models import AirflowServer, DagRunState, FireState, Task, TaskRun
from console.models.timeutil import utcnow
from console.security.secrets import SecretUnreadable
from console.services import alerts, log_warm
from console.services.logs import TaskLogRef

log = logging.getLogger(__name__)

#: Up to this many runs of one DAG are read one by one; more are listed.
SINGLE_READS = 10
#: Finished runs listed per big group and pass.
LIST_WINDOW = 100

ClientFor = Callable[[AirflowServer], AirflowClient]


def _default_client_for(server: AirflowServer) -> AirflowClient:
    from console.airflow.registry import client_for

    return client_for(server)


class LogWarmer:
    """Reads failed tasks' logs into the log cache on one background thread, so that a monitor
    pass never waits for a log; a process has one (:func:`log_warmer`)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="log-warm")
        self.pending: list[Future[list[TaskLogRef]]] = []

    def submit(self, app: Flask, server_id: int, dag_id: str, run_id: str) -> Future[list[TaskLogRef]]:
        def warm() -> list[TaskLogRef]:
            with app.app_context():
                try:
                    return log_warm.warm_failed_logs(server_id, dag_id, run_id)
                except Exception:  # a background nicety: never let it take the thread down
                    log.exception("could not warm the failed logs of %s %s", dag_id, run_id)
                    return []

        future = self._pool.submit(warm)
        self.pending = [f for f in self.pending if not f.done()] + [future]
        return future


_warmer_lock = threading.Lock()
_warmer: LogWarmer | None = None


def log_warmer() -> LogWarmer:
    global _warmer
    with _warmer_lock:
        if _warmer is None:
            _warmer = LogWarmer()
        return _warmer


def poll_once(*, now: datetime | None = None, client_for: ClientFor | None = None) -> int:
    """Update every triggered run Airflow has news about; returns how many finished. Commits.
    The logs of the failed tasks of runs that failed are warmed in the background."""
    client_for = client_for or _default_client_for
    rows = db.session.execute(
        sa.select(TaskRun, Task.server_id, Task.dag_id)
        .join(Task, Task.id == TaskRun.task_id)
        .where(TaskRun.state == FireState.TRIGGERED)
        .order_by(TaskRun.triggered_at)
    ).all()
    groups: dict[tuple[int, str], list[TaskRun]] = defaultdict(list)
    for run, server_id, dag_id in rows:
        groups[(server_id, dag_id)].append(run)
    finished = 0
    for (server_id, dag_id), runs in groups.items():
        server = db.session.get(AirflowServer, server_id)
        if server is None:
            continue
        try:
            finished += _follow(client_for(server), dag_id, runs, now or utcnow())
        except (AirflowError, SecretUnreadable) as exc:
            log.warning("monitor: cannot read runs of %s on %s: %s", dag_id, server.name, exc)
        db.session.commit()
        for run in runs:
            if run.state == FireState.FAILED and run.dag_run_state == DagRunState.FAILED and server.enabled:
                log_warmer().submit(current_app._get_current_object(), server_id, dag_id, run.dag_run_id)  # type: ignore[attr-defined]
    return finished


def _follow(client: AirflowClient, dag_id: str, runs: list[TaskRun], now: datetime) -> int:
    if len(runs) <= SINGLE_READS:
        singles = runs
    else:
        listed = client.list_dag_runs(dag_id, limit=LIST_WINDOW, order_by="-end_date", state=sorted(DagRunState.FINAL))
        by_id = {r.run_id: r for r in listed}
        finished = sum(_apply(run, by_id[run.dag_run_id], now) for run in runs if run.dag_run_id in by_id)
        waiting = [run for run in runs if run.dag_run_id not in by_id]
        singles = waiting[:SINGLE_READS]
        return finished + _read_each(client, dag_id, singles, now)
    return _read_each(client, dag_id, singles, now)


def _read_each(client: AirflowClient, dag_id: str, runs: list[TaskRun], now: datetime) -> int:
    finished = 0
    for run in runs:
        try:
            dag_run = client.get_dag_run(dag_id, run.dag_run_id)
        except AirflowNotFound:
            run.state, run.finished_at = FireState.FAILED, now
            run.error = "the DAG run no longer exists in Airflow (deleted?)"
            finished += 1
            continue
        finished += _apply(run, dag_run, now)
    return finished


def _naive(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment is not None else None


def _apply(run: TaskRun, dag_run: DagRun, now: datetime) -> int:
    """Copy Airflow's view of the run onto ``run``; 1 if it just finished."""
    run.dag_run_state = dag_run.state
    if dag_run.state not in DagRunState.FINAL:
        return 0
    run.state = FireState(dag_run.state)
    run.finished_at = _naive(dag_run.end_date) or now
    if dag_run.duration is not None:
        run.duration_seconds = float(dag_run.duration)
    elif dag_run.start_date and dag_run.end_date:
        run.duration_seconds = (dag_run.end_date - dag_run.start_date).total_seconds()
    if dag_run.state == DagRunState.FAILED:
        run.error = "the DAG run failed in Airflow"
    log.info("task %s: %s finished %s", run.task_id, run.dag_run_id, dag_run.state)
    return 1


def monitor_pass(*, now: datetime | None = None, client_for: ClientFor | None = None) -> None:
    """One monitor pass: follow runs, then send the alerts of failed runs. Never raises."""
    for step in (lambda: poll_once(now=now, client_for=client_for), lambda: alerts.send_pending_alerts(now=now)):
        try:
            step()
        except Exception:
            db.session.rollback()
            log.exception("monitor pass step failed; carrying on")
