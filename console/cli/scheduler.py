"""``manage.py scheduler``: run the task scheduler process until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Do one pass (catch up, trigger what is due, follow runs) and exit.")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning"]))
@with_appcontext
def scheduler(once: bool, log_level: str) -> None:
    """Run the task scheduler (one leader per database; extra instances wait as followers)."""
    from console.cli.storage import require_writable_storage
    from console.observability.logs import configure as configure_logging
    from console.scheduler.process import SchedulerProcess

    require_writable_storage(current_app.config, current_app.instance_path)
    configure_logging(current_app.config["LOG_FORMAT"], log_level)
    process = SchedulerProcess(current_app._get_current_object())  # type: ignore[attr-defined]
    if once:
        led = process.run_once()
        click.echo("Done." if led else "Another scheduler holds the lead; nothing done.")
        return
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        logging.getLogger(__name__).info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    process.run(stop)


commands = [scheduler]
