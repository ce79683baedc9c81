"""``manage.py setup`` (first-run admin) and ``manage.py seed-demo``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from console.cli.users import run_service
from console.services import users as user_service

NO_ADMIN = (
    "No admin account exists and none was created: no password was given. Either set "
    "CONSOLE_ADMIN_PASSWORD_FILE (a mounted secret file; CONSOLE_ADMIN_EMAIL for the email) and run "
    "`python manage.py setup` again, or run `python manage.py users create EMAIL --role admin` "
    "(it prompts for the password)."
)


def configured_admin_password() -> tuple[str, str] | None:
    """``(password, where it came from)`` from ADMIN_PASSWORD_FILE, else ADMIN_PASSWORD; ``None``
    when neither is set.  An unreadable or empty file is an error, never a silent fallback."""
    config = current_app.config
    path = config.get("ADMIN_PASSWORD_FILE")
    if path:
        try:
            password = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise click.ClickException(f"CONSOLE_ADMIN_PASSWORD_FILE: cannot read {path}: {reason}.") from None
        if not password:
            raise click.ClickException(f"CONSOLE_ADMIN_PASSWORD_FILE: {path} is empty.")
        return password, f"the file {path}"
    if config.get("ADMIN_PASSWORD"):
        return str(config["ADMIN_PASSWORD"]), "CONSOLE_ADMIN_PASSWORD"
    return None


@click.command("setup")
@with_appcontext
@click.option("--admin-email", help="The first admin's email (default: CONSOLE_ADMIN_EMAIL, or admin@example.com).")
@click.option(
    "--print-password",
    is_flag=True,
    help="When no password is configured, generate one and print it once (for a local terminal, never a container).",
)
def setup(admin_email: str | None, print_password: bool) -> None:
    """Create the roles, and the first admin when no admin exists.

    The admin's password comes from CONSOLE_ADMIN_PASSWORD_FILE (a mounted secret file) or
    CONSOLE_ADMIN_PASSWORD and is never printed. Without either, --print-password generates one
    and prints it once; otherwise no admin is created and the ways to create one are printed.
    """
    email = admin_email or current_app.config["ADMIN_EMAIL"]
    run_service(user_service.ensure_roles)
    if user_service.has_admin():
        return
    configured = configured_admin_password()
    if configured is None and not print_password:
        click.echo(NO_ADMIN)
        return
    password, source = configured if configured else (None, "")
    created = run_service(lambda: user_service.ensure_admin(email, password))
    if created is None:
        return
    user, used = created
    if configured:
        click.echo(f"Created the first admin {user.email} (password from {source}).")
        return
    click.echo("=" * 60)
    click.echo("Created the first admin. This password is shown once:")
    click.echo(f"  email:    {user.email}")
    click.echo(f"  password: {used}")
    click.echo("=" * 60)


@click.command("seed-demo")
@with_appcontext
@click.option("--password", help="Password for the demo users (else generated and printed).")
def seed_demo(password: str | None) -> None:
    """Create one demo user per role (viewer@, operator@, admin@example.com)."""
    created = run_service(lambda: user_service.seed_demo_users(password))
    for user, used in created:
        click.echo(f"{user.email}\t{','.join(user.role_names)}\t{used}")
    if not created:
        click.echo("Demo users already exist.")
    try:
        from console.services.demo import seed_demo_task
    except ImportError:
        return
    message = run_service(seed_demo_task)
    if message:
        click.echo(message)
