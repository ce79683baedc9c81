"""Reconciliation: the tasks table -> one APScheduler job per enabled task, with stable ids."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from console.extensions import db
from console.models import Task
from console.scheduler.reconcile import Reconciler, RecordingExecutor, job_id
from console.services import servers, tasks


@pytest.fixture
def executor() -> RecordingExecutor:
    return RecordingExecutor()


@pytest.fixture
def scheduler(executor: RecordingExecutor) -> Iterator[BackgroundScheduler]:
    sched = BackgroundScheduler(timezone=UTC, executors={"default": executor})
    sched.start(paused=True)
    yield sched
    sched.shutdown(wait=False)


class Fires:
    def __init__(self) -> None:
        self.calls: list[tuple[int, list[datetime]]] = []

    def __call__(self, task_id: int, fire_times: Any = ()) -> None:
        self.calls.append((task_id, list(fire_times)))


def new_task(name: str, cron: str = "0 5 * * *", **values: Any) -> Task:
    server = servers.register_server(name="reconcile", base_url="http://127.0.0.1:9", username="u", secret="p")
    db.session.flush()
    return tasks.create_task(
        {"name": name, "server_id": server.id, "dag_id": "example_quick", "cron": cron, **values}, check_dag=False
    )


def jobs(scheduler: BackgroundScheduler) -> dict[str, str]:
    return {job.id: str(job.trigger) for job in scheduler.get_jobs()}


def test_created_edited_disabled_and_deleted_tasks_become_jobs(app: Flask, scheduler: BackgroundScheduler) -> None:
    reconciler = Reconciler(scheduler, Fires())
    with app.app_context():
        first = new_task("first", "0 5 * * 1-5", timezone="Europe/Berlin")
        second = new_task("second", "*/15 * * * *", enabled=False)
        db.session.commit()

        created = reconciler.sync()
        assert created.added == [first.id] and not created.changed and not created.removed
        assert [t.id for t in created.fresh] == [first.id]
        assert jobs(scheduler) == {job_id(first.id): "cron[0 5 * * 1-5, Europe/Berlin]"}
        assert not reconciler.sync()  # nothing changed, nothing done

        tasks.update_task(first, {"cron": "30 6 * * *"}, check_dag=False)
        tasks.set_enabled([second], True)
        db.session.commit()
        edited = reconciler.sync()
        assert edited.changed == [first.id] and edited.added == [second.id]
        assert jobs(scheduler) == {
            job_id(first.id): "cron[30 6 * * *, Europe/Berlin]",
            job_id(second.id): "cron[*/15 * * * *, UTC]",
        }

        tasks.set_enabled([first], False)
        db.session.delete(second)
        db.session.commit()
        gone = reconciler.sync()
        assert sorted(gone.removed) == sorted([first.id, second.id])
        assert jobs(scheduler) == {}


def test_job_ids_are_stable_and_next_fire_follows_the_cron(app: Flask, scheduler: BackgroundScheduler) -> None:
    reconciler = Reconciler(scheduler, Fires())
    with app.app_context():
        task = new_task("stable", "0 5 * * *")
        db.session.commit()
        reconciler.sync()
        job = scheduler.get_job(f"task-{task.id}")
        assert job is not None
        assert job.next_run_time.astimezone(UTC).strftime("%H:%M") == "05:00"
        tasks.update_task(task, {"description": "only the words changed"}, check_dag=False)
        db.session.commit()
        reconciler.sync()
        assert [j.id for j in scheduler.get_jobs()] == [f"task-{task.id}"]


def test_a_task_whose_cron_became_unusable_loses_its_job(app: Flask, scheduler: BackgroundScheduler) -> None:
    reconciler = Reconciler(scheduler, Fires())
    with app.app_context():
        task = new_task("broken later")
        db.session.commit()
        reconciler.sync()
        db.session.execute(sa.update(Task).where(Task.id == task.id).values(cron="not a cron"))
        db.session.commit()
        result = reconciler.sync()
        assert result.removed == [task.id]
        assert jobs(scheduler) == {}


def test_recording_executor_hands_the_exact_fire_times_to_the_callback(
    app: Flask, scheduler: BackgroundScheduler, executor: RecordingExecutor
) -> None:
    fires = Fires()
    reconciler = Reconciler(scheduler, fires)
    with app.app_context():
        task = new_task("timed")
        db.session.commit()
        reconciler.sync()
    job = scheduler.get_job(job_id(task.id))
    times = [datetime(2026, 6, 1, 5, tzinfo=UTC), datetime(2026, 6, 2, 5, tzinfo=UTC)]
    executor.submit_job(job, times)  # what APScheduler does when the job is due
    executor.submit_job(job, times[1:])  # a job is never "still running": no max-instances skip
    assert fires.calls == [(task.id, times), (task.id, times[1:])]
