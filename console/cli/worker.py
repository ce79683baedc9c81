"""``manage.py worker``: run the background job worker (Huey's consumer) until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import threading

import click
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--workers", type=int, default=None, help="Jobs run at once (default: JOBS_WORKERS).")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning"]))
@with_appcontext
def worker(workers: int | None, log_level: str) -> None:
    """Run background jobs (bulk actions). On start it resumes jobs whose worker died."""
    from flask import current_app

    from console.cli.storage import require_writable_storage
    from console.jobs import job_queue
    from console.observability.logs import configure as configure_logging

    require_writable_storage(current_app.config, current_app.instance_path)
    configure_logging(current_app.config["LOG_FORMAT"], log_level)
    queue = job_queue()
    if queue.huey.immediate:
        raise click.UsageError("JOBS_IMMEDIATE is set: jobs run inside the web requests, there is nothing to consume.")
    consumer = queue.huey.create_consumer(
        workers=workers or int(current_app.config["JOBS_WORKERS"]), worker_type="thread", periodic=True
    )
    # Huey sets its stop flag on SIGINT/SIGTERM; running jobs then stop between two items.
    queue.stopping = consumer.stop_flag
    resumed = queue.recover()
    logging.getLogger(__name__).info("job worker started; resumed jobs: %s", resumed or "none")
    heart = threading.Thread(target=queue.beat_until, args=(consumer.stop_flag,), name="heartbeat", daemon=True)
    heart.start()
    consumer.run()
    heart.join(10)


commands = [worker]
