"""``manage.py setup`` (first-run admin) and ``manage.py seed-demo``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from console.cli.users import run_service
from console.services import users as user_service


@click.command("setup")
@with_appcontext
@click.option("--admin-email", default="admin@example.com", show_default=True)
def setup(admin_email: str) -> None:
    """Create the roles, and an admin when none exists (its password is printed once)."""
    created = run_service(lambda: user_service.ensure_admin(admin_email))
    if created:
        user, password = created
        click.echo("=" * 60)
        click.echo("Created the first admin. This password is shown once:")
        click.echo(f"  email:    {user.email}")
        click.echo(f"  password: {password}")
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
