"""``manage.py airflow-sandbox start|stop|status``: the local Airflow the console uses by default.

The sandbox package is imported inside the commands: ``create_app`` registers this group in
every process (web workers too), which must not load a development tool.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import AppGroup

from console.cli.users import run_service

if TYPE_CHECKING:
    from console.airflow.sandbox import SandboxSettings

SANDBOX_SERVER_NAME = "sandbox"


def settings_from_config(port: int | None = None) -> SandboxSettings:
    """The sandbox of ``AIRFLOW_SANDBOX_ROOT`` / ``AIRFLOW_SANDBOX_DAGS_FOLDER``; unset, those are
    ``.sandbox`` and ``examples/dags`` beside the ``console`` package (a source checkout)."""
    from console.airflow.sandbox import SandboxSettings

    checkout = Path(current_app.root_path).parent
    config = current_app.config
    return SandboxSettings(
        root=Path(config.get("AIRFLOW_SANDBOX_ROOT") or checkout / ".sandbox"),
        dags_folder=Path(config.get("AIRFLOW_SANDBOX_DAGS_FOLDER") or checkout / "examples" / "dags"),
        port=port or config["AIRFLOW_SANDBOX_PORT"],
    )


@click.group("airflow-sandbox", cls=AppGroup)
def airflow_sandbox() -> None:
    """A real Airflow 3.3 on this machine (installed into its own virtualenv on first use)."""


@airflow_sandbox.command("start")
@click.option("--port", type=int, help="API port (default: AIRFLOW_SANDBOX_PORT, 28080).")
@click.option("--register/--no-register", default=False, help=f"Register it as the server {SANDBOX_SERVER_NAME!r}.")
@click.option("--timeout", type=int, default=300, show_default=True, help="Seconds to wait for health.")
def start(port: int | None, register: bool, timeout: int) -> None:
    """Install if needed, start, and wait until healthy with the example DAGs loaded."""
    from console.airflow import sandbox

    settings = settings_from_config(port)
    try:
        status = sandbox.start(settings, timeout=timeout, log=lambda m: click.echo(f"[sandbox] {m}"))
    except sandbox.SandboxError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Airflow sandbox ready at {status.base_url} (user {status.username}, password in {status.password_file})"
    )
    if register:
        from console.services.servers import register_server

        run_service(
            lambda: register_server(
                name=SANDBOX_SERVER_NAME,
                base_url=status.base_url,
                username=status.username,
                secret=status.password,
            )
        )
        click.echo(f"Registered as server {SANDBOX_SERVER_NAME!r}.")


@airflow_sandbox.command("stop")
@click.option("--port", type=int)
def stop(port: int | None) -> None:
    """Stop the sandbox and every process it started."""
    from console.airflow import sandbox

    try:
        stopped = sandbox.stop(settings_from_config(port), log=lambda m: click.echo(f"[sandbox] {m}"))
    except sandbox.SandboxError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("Stopped." if stopped else "Not running.")


@airflow_sandbox.command("status")
@click.option("--port", type=int)
@click.option("--quiet", is_flag=True, help="Print nothing; exit 0 when running and healthy.")
def status(port: int | None, quiet: bool) -> None:
    """Whether it runs, its URL, its admin user and the file holding the password."""
    from console.airflow import sandbox

    state = sandbox.status(settings_from_config(port))
    if not quiet:
        click.echo(f"running:  {'yes' if state.running else 'no'}{' (healthy)' if state.healthy else ''}")
        click.echo(f"url:      {state.base_url}")
        click.echo(f"user:     {state.username}")
        click.echo(f"password: in {state.password_file}")
    if not (state.running and state.healthy):
        sys.exit(1)


commands = [airflow_sandbox]
