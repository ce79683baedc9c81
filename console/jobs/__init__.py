"""The job queue: Huey tasks (thin adapters over ``console.services.jobs``) and their storage.

Huey keeps its queue in a SQLite file in the instance folder (``JOBS_QUEUE_PATH``), or in
Redis when ``REDIS_URL`` (``CONSOLE_REDIS_URL``) is set, so that every web worker and job
worker share it. The queue is built on first use (``create_app`` does no I/O) and lives in
``app.extensions["jobs"]``. ``manage.py worker`` consumes it.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from pathlib import Path
from typing import Any

import psutil
from flask import Flask, current_app
from huey import Huey, MemoryHuey, PriorityRedisHuey, SqliteHuey, crontab

QUEUE_NAME = "console-jobs"


class JobQueue:
    """One app's Huey instance and its tasks."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._huey: Huey | None = None
        self._lock = threading.Lock()
        self.tasks: dict[str, Any] = {}
        #: Runner names of the jobs this process is running now.
        self.active: set[str] = set()
        #: Set when the worker is shutting down: running jobs stop between two items.
        self.stopping = threading.Event()

    @property
    def huey(self) -> Huey:
        with self._lock:
            if self._huey is None:
                self._huey = _make_huey(self.app.config, self.app.instance_path)
                self.tasks = _register_tasks(self._huey, self)
            return self._huey

    def submit(self, job_id: int) -> None:
        """Put job ``job_id`` on the queue (in immediate mode: run it now)."""
        self.huey  # noqa: B018  (builds the tasks)
        self.tasks["run_job"](job_id)

    def new_runner(self) -> str:
        """A name for one run of a job by this process: ``host:pid:token``."""
        return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def runner_alive(self, runner: str) -> bool:
        """Whether ``runner`` may still be running: on another host we cannot tell (the
        heartbeat decides); on this one its process must exist, and if it is this
        process, the runner must be one of ours that is running now."""
        host, _, rest = runner.partition(":")
        pid_text, _, _token = rest.partition(":")
        if host != socket.gethostname() or not pid_text.isdigit():
            return True
        pid = int(pid_text)
        if pid == os.getpid():
            return runner in self.active
        return psutil.pid_exists(pid)

    def run(self, job_id: int) -> None:
        from console.services import jobs

        runner = self.new_runner()
        self.active.add(runner)
        try:
            with self.app.app_context():
                jobs.run_job(job_id, runner, stopping=self.stopping.is_set)
        finally:
            self.active.discard(runner)

    def beat_until(self, stop: threading.Event) -> None:
        """Beat this worker's heartbeat every ``JOBS_HEARTBEAT_SECONDS`` until ``stop`` is set,
        then remove it (a worker that dies leaves a heartbeat that goes stale)."""
        from console.services import job_workers

        instance = f"{socket.gethostname()}:{os.getpid()}"
        interval = float(self.app.config["JOBS_HEARTBEAT_SECONDS"])
        while True:
            with self.app.app_context():
                if stop.is_set():
                    job_workers.forget(instance)
                    return
                job_workers.beat(instance, socket.gethostname(), os.getpid(), running=len(self.active))
            stop.wait(interval)

    def recover(self) -> list[int]:
        """Hand jobs whose worker died back to the queue; returns their ids."""
        from console.services import jobs

        with self.app.app_context():
            ids = jobs.recover_jobs(self.runner_alive)
        for job_id in ids:
            self.submit(job_id)
        return ids


def _make_huey(config: Any, instance_path: str) -> Huey:
    if config.get("JOBS_IMMEDIATE"):
        return MemoryHuey(QUEUE_NAME, immediate=True)
    if config.get("REDIS_URL"):
        # Its keys are named after the queue: several consoles (or test runs) may share one Redis.
        return PriorityRedisHuey(config.get("JOBS_QUEUE_NAME") or QUEUE_NAME, url=config["REDIS_URL"])
    path = Path(config.get("JOBS_QUEUE_PATH") or Path(instance_path) / "jobs.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(QUEUE_NAME, filename=str(path))


def _register_tasks(huey: Huey, queue: JobQueue) -> dict[str, Any]:
    @huey.task(name="run_job")
    def run_job(job_id: int) -> None:
        queue.run(job_id)

    @huey.periodic_task(crontab(minute="*"), name="recover_jobs")
    def recover_jobs() -> None:
        queue.recover()

    return {"run_job": run_job, "recover_jobs": recover_jobs}


def init_app(app: Flask) -> None:
    app.extensions["jobs"] = JobQueue(app)


def job_queue() -> JobQueue:
    """The current app's queue."""
    queue: JobQueue = current_app.extensions["jobs"]
    return queue
