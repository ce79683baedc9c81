"""Background jobs: bulk actions over many DAGs, run item by item by the job worker.

The database is the source of truth; the queue only carries a job's id.

* :func:`create_bulk_job` checks the selection, writes the job and its items
  and audits the start, in one commit; the caller then enqueues the id.
* :func:`run_job` is what the worker runs: it claims the job (one runner at a
  time), does the pending items one by one under the acting person's identity
  (each through :mod:`console.services.dag_actions`, so each is audited once,
  and the item's outcome is committed with its audit row), checks for a cancel
  between items, and audits the end.
* :func:`recover_jobs` finds jobs whose worker died (its process is gone, or
  its heartbeat is stale) and hands them back to the queue, or, after too many
  attempts, ends them failed with a reason: a job is never silently lost.

Triggers use run ids derived from the job (``console__job-<uid>-<n>``), so a
trigger retried after a crash finds its run (a 409) and counts it as done.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, cast

import sqlalchemy as sa
from flask import current_app

from console.extensions import db
from console.models import AirflowServer, Job, JobItem, JobItemState, JobState, User
from console.models.timeutil import utcnow
from console.services import dag_actions
from console.services.audit import record_airflow_action
from console.services.errors import ServiceError

log = logging.getLogger(__name__)

#: The bulk actions, and how the screens name them.
BULK_ACTIONS: dict[str, str] = {
    "pause": "Pause",
    "unpause": "Unpause",
    "trigger": "Trigger",
    "clear": "Clear latest run",
}
BULK_KIND = "bulk"
RUN_ID_PREFIX = "console__job-"


def _changed(statement: Any) -> int:
    """Rows an UPDATE changed."""
    return int(cast(sa.CursorResult[Any], db.session.execute(statement)).rowcount)


class JobNotFound(ServiceError):
    """No job has that id (a 404 for the screens)."""


# --- creating ---------------------------------------------------------------------------------


def parse_selection(keys: Iterable[str]) -> list[tuple[AirflowServer, str]]:
    """``"<server id>:<dag id>"`` keys as (enabled server, DAG id), duplicates dropped, in order;
    :class:`ServiceError` naming the first key that is not one."""
    wanted = list(dict.fromkeys(k.strip() for k in keys if k and k.strip()))
    if not wanted:
        raise ServiceError("Select at least one DAG first.")
    limit = int(current_app.config["JOBS_MAX_ITEMS"])
    if len(wanted) > limit:
        raise ServiceError(f"A bulk action takes at most {limit} DAGs; {len(wanted)} were selected.")
    servers = {s.id: s for s in db.session.scalars(sa.select(AirflowServer).where(AirflowServer.enabled))}
    selection = []
    for key in wanted:
        sid, _, dag_id = key.partition(":")
        if not sid.isdigit() or not dag_id:
            raise ServiceError(f"{key[:100]!r} does not name a DAG (expected <server id>:<DAG id>).")
        server = servers.get(int(sid))
        if server is None:
            raise ServiceError(f"There is no enabled Airflow server with id {sid} (selected for DAG {dag_id[:100]!r}).")
        selection.append((server, dag_id))
    return selection


def create_bulk_job(actor: str, action: str, keys: Iterable[str]) -> Job:
    """A queued job doing ``action`` to each selected DAG as ``actor`` (the person's email);
    its start is audited in the same commit. :class:`ServiceError` for bad input."""
    if action not in BULK_ACTIONS:
        raise ServiceError(f"Unknown bulk action {action[:40]!r}: choose one of {', '.join(BULK_ACTIONS)}.")
    selection = parse_selection(keys)
    user_id = db.session.scalar(sa.select(User.id).where(User.email == actor))
    job = Job(
        uid=uuid.uuid4().hex,
        kind=BULK_KIND,
        params={"action": action},
        actor=actor,
        user_id=user_id,
        state=JobState.QUEUED,
        total=len(selection),
        heartbeat_at=utcnow(),
    )
    job.items = [
        JobItem(position=n, server_id=server.id, server_name=server.name, dag_id=dag_id)
        for n, (server, dag_id) in enumerate(selection)
    ]
    db.session.add(job)
    db.session.flush()
    _audit(job, "started", detail={"dags": job.total})
    db.session.commit()
    return job


def describe(job: Job) -> str:
    """``Trigger 20 DAGs``: what the job does, for people."""
    action = BULK_ACTIONS.get(job.params.get("action", ""), job.kind)
    return f"{action}: {job.total} {'DAG' if job.total == 1 else 'DAGs'}"


def trigger_run_id(job: Job, item: JobItem) -> str:
    """The run id a job's trigger of one item uses: the same on every retry of that item."""
    return f"{RUN_ID_PREFIX}{job.uid[:12]}-{item.position}"


# --- reading and cancelling -------------------------------------------------------------------


def get_job(job_id: int) -> Job:
    job = db.session.get(Job, job_id)
    if job is None:
        raise JobNotFound(f"There is no job {job_id}.")
    return job


def recent_jobs(limit: int = 50) -> list[Job]:
    return list(db.session.scalars(sa.select(Job).order_by(Job.id.desc()).limit(limit)))


def progress(job: Job, seen: int = 0) -> dict[str, Any]:
    """The job's state and the outcomes of its ended items, as the job page's JSON.

    An item ends once and never changes after, so a page that has ``seen`` ended items asks
    for the rest only (``items``, in the order they ended; ``seen`` in the answer counts them
    all): a poll of a 5,000-DAG job stays small.
    """
    ended = db.session.scalars(
        sa.select(JobItem)
        .where(JobItem.job_id == job.id, JobItem.state != JobItemState.PENDING)
        .order_by(JobItem.finished_at, JobItem.position)
        .offset(max(0, seen))
    ).all()
    return {
        "id": job.id,
        "state": job.state,
        "final": job.is_final,
        "total": job.total,
        "done": job.done,
        "failed": job.failed,
        "percent": percent_done(job),
        "cancel_requested": job.cancel_requested,
        "message": job.message,
        "seen": max(0, seen) + len(ended),
        "items": [item_outcome(i) for i in ended],
    }


def percent_done(job: Job) -> int:
    """How far the job is, 0-100 (100 once it has ended, cancelled included)."""
    return 100 if job.is_final else (100 * job.done // job.total if job.total else 0)


def item_outcome(item: JobItem) -> dict[str, Any]:
    return {
        "position": item.position,
        "server": item.server_name,
        "server_id": item.server_id,
        "dag_id": item.dag_id,
        "state": item.state,
        "message": item.message,
        "run_id": item.run_id,
    }


def request_cancel(job_id: int) -> Job:
    """Cancel a job: one still queued ends now; a running one stops before its next item.
    :class:`ServiceError` when it has already ended."""
    job = get_job(job_id)
    now = utcnow()
    ended = _changed(
        sa.update(Job)
        .where(Job.id == job_id, Job.state == JobState.QUEUED, Job.runner.is_(None))
        .values(state=JobState.CANCELLED, cancel_requested=True, finished_at=now)
    )
    if ended:
        db.session.refresh(job)
        _cancel_pending(job, "cancelled before it ran")
        _audit(job, "finished", detail=_counts(job))
        db.session.commit()
        return job
    asked = _changed(
        sa.update(Job).where(Job.id == job_id, Job.state == JobState.RUNNING).values(cancel_requested=True)
    )
    db.session.commit()
    db.session.refresh(job)
    if not asked:
        raise ServiceError(f"Job {job_id} has already ended ({job.state.replace('_', ' ')}).")
    return job


# --- running (the worker) ---------------------------------------------------------------------


def run_job(job_id: int, runner: str, stopping: Callable[[], bool] = lambda: False) -> Job | None:
    """Claim job ``job_id`` for ``runner`` and do its pending items; None when it is not
    claimable (ended, cancelled, or another runner holds it). When ``stopping()`` turns true
    (the worker is shutting down) the job is released between two items, to be resumed."""
    now = utcnow()
    claimed = _changed(
        sa.update(Job)
        .where(Job.id == job_id, Job.state.in_([JobState.QUEUED, JobState.RUNNING]), Job.runner.is_(None))
        .values(
            runner=runner,
            state=JobState.RUNNING,
            started_at=sa.func.coalesce(Job.started_at, now),
            heartbeat_at=now,
            attempts=Job.attempts + 1,
        )
    )
    db.session.commit()
    if not claimed:
        log.info("job %s: not claimable, skipped", job_id)
        return None
    job = get_job(job_id)
    log.info("job %s: %s (attempt %s) by %s", job.id, describe(job), job.attempts, runner)
    pending = list(
        db.session.scalars(
            sa.select(JobItem)
            .where(JobItem.job_id == job.id, JobItem.state == JobItemState.PENDING)
            .order_by(JobItem.position)
        )
    )
    for item in pending:
        db.session.refresh(job, ["runner", "cancel_requested"])
        if job.runner != runner:
            log.warning("job %s: taken over by %s; %s stops", job.id, job.runner, runner)
            return job
        if job.cancel_requested:
            break
        if stopping():
            _release(job, runner)
            return job
        _run_item(job, item)
    _finish(job)
    return job


def _release(job: Job, runner: str) -> None:
    """Give the job back (the worker is stopping): its runner is then gone, so the next worker
    start resumes it; a stop is not a crash, so it does not count as an attempt."""
    db.session.execute(sa.update(Job).where(Job.id == job.id, Job.runner == runner).values(attempts=Job.attempts - 1))
    db.session.commit()
    log.info("job %s: released at %s of %s items; it resumes when a worker starts", job.id, job.done, job.total)


def _run_item(job: Job, item: JobItem) -> None:
    action = job.params.get("action", "")
    assert item.server_id is not None

    def record(run_id: str | None, error: str | None) -> None:
        _settle(job, item, JobItemState.FAILED if error else JobItemState.SUCCEEDED, error, run_id)

    act: dict[str, Any] = {"job_id": job.id, "before_commit": record}
    try:
        if action in ("pause", "unpause"):
            dag_actions.set_paused(job.actor, item.server_id, item.dag_id, action == "pause", **act)
        elif action == "trigger":
            dag_actions.trigger(job.actor, item.server_id, item.dag_id, run_id=trigger_run_id(job, item), **act)
        elif action == "clear":
            run_id = dag_actions.latest_run_id(item.server_id, item.dag_id)
            dag_actions.clear(job.actor, item.server_id, item.dag_id, run_id, **act)
        else:
            raise ServiceError(f"Unknown bulk action {action!r}.")
    except dag_actions.DagActionError:
        pass  # audited, and the item settled in the same commit
    except ServiceError as exc:  # refused before anything reached Airflow: nothing to audit
        _fail_item(job, item, str(exc))
    except Exception:  # a defect must not stop the other items; the log has the traceback
        log.exception("job %s: item %s (%s) failed unexpectedly", job.id, item.position, item.dag_id)
        _fail_item(job, item, "an unexpected error (the job worker's log has the details)")


def _fail_item(job: Job, item: JobItem, message: str) -> None:
    db.session.rollback()
    _settle(job, item, JobItemState.FAILED, message, None)
    db.session.commit()


def _settle(job: Job, item: JobItem, state: str, message: str | None, run_id: str | None) -> None:
    """Record one item's outcome and the job's progress (the caller commits)."""
    now = utcnow()
    item.state, item.message, item.run_id, item.finished_at = state, message, run_id, now
    job.done = Job.done + 1
    if state == JobItemState.FAILED:
        job.failed = Job.failed + 1
    job.heartbeat_at = now


def _finish(job: Job, message: str | None = None) -> None:
    db.session.refresh(job)
    if job.cancel_requested:
        _cancel_pending(job, "cancelled before it ran")
        job.state = JobState.CANCELLED
    else:
        _cancel_pending(job, message or "not run", state=JobItemState.FAILED)
        db.session.flush()
        db.session.refresh(job)
        if job.failed == 0:
            job.state = JobState.SUCCEEDED
        elif job.failed >= job.total:
            job.state = JobState.FAILED
        else:
            job.state = JobState.PARTIALLY_FAILED
    job.message = message or job.message
    job.finished_at = utcnow()
    _audit(job, "finished", detail=_counts(job), error=None if job.state == JobState.SUCCEEDED else _summary(job))
    db.session.commit()
    log.info("job %s: %s", job.id, _summary(job))


def _cancel_pending(job: Job, message: str, state: str = JobItemState.CANCELLED) -> None:
    pending = [i for i in job.items if i.state == JobItemState.PENDING]
    for item in pending:
        item.state, item.message, item.finished_at = state, message, utcnow()
    if state == JobItemState.FAILED:
        job.done = Job.done + len(pending)
        job.failed = Job.failed + len(pending)


def _counts(job: Job) -> dict[str, Any]:
    return {"state": job.state, "total": job.total, "done": job.done, "failed": job.failed}


def _summary(job: Job) -> str:
    return f"{job.state.replace('_', ' ')}: {job.done - job.failed} of {job.total} done, {job.failed} failed"


def _audit(job: Job, event: str, *, detail: dict[str, Any], error: str | None = None) -> None:
    """One audit row for the job's start or end (the caller commits)."""
    names = ", ".join(dict.fromkeys(i.server_name for i in job.items))
    action = f"bulk {job.params.get('action', job.kind)} {event}"
    record_airflow_action(
        action[:32], names[:80] or "-", actor=job.actor, detail={"job": job.id, **detail}, error=error
    )


# --- recovering -------------------------------------------------------------------------------


def recover_jobs(runner_alive: Callable[[str], bool]) -> list[int]:
    """Jobs to hand back to the queue: running jobs whose runner is dead (``runner_alive`` says
    no, or its heartbeat is older than ``JOBS_STALE_AFTER_SECONDS``) and queued jobs whose
    queue message may be lost. A job that has been started ``JOBS_MAX_ATTEMPTS`` times ends
    failed instead, its undone items marked with the reason."""
    config = current_app.config
    now = utcnow()
    stale = now - timedelta(seconds=float(config["JOBS_STALE_AFTER_SECONDS"]))
    candidates = db.session.scalars(
        sa.select(Job).where(Job.state.in_([JobState.QUEUED, JobState.RUNNING])).order_by(Job.id)
    ).all()
    requeue: list[int] = []
    for job in candidates:
        beat_stale = job.heartbeat_at is None or job.heartbeat_at < stale
        if job.state == JobState.QUEUED:
            due = beat_stale  # its queue message may be lost: a second one is harmless
        else:  # running: its runner died or stopped (or, with no runner, its requeue was lost)
            due = beat_stale or (job.runner is not None and not runner_alive(job.runner))
        if not due:
            continue
        if job.state == JobState.RUNNING and job.attempts >= int(config["JOBS_MAX_ATTEMPTS"]):
            if _take(job, now):
                times = "once" if job.attempts == 1 else f"{job.attempts} times"
                reason = f"not run: the job worker stopped {times} while running this job"
                log.error("job %s: %s; ending it failed", job.id, reason)
                _finish(job, reason)
            continue
        was = job.runner or "the queue"
        if _take(job, now):
            log.warning("job %s: %s stopped answering for it; resuming it", job.id, was)
            requeue.append(job.id)
    db.session.commit()
    return requeue


def _take(job: Job, now: Any) -> bool:
    """Release the job from its dead runner (only if nobody changed it since we read it)."""
    runner_is = Job.runner.is_(None) if job.runner is None else Job.runner == job.runner
    beat_is = Job.heartbeat_at.is_(None) if job.heartbeat_at is None else Job.heartbeat_at == job.heartbeat_at
    taken = _changed(sa.update(Job).where(Job.id == job.id, runner_is, beat_is).values(runner=None, heartbeat_at=now))
    db.session.commit()
    db.session.refresh(job)
    return bool(taken)
