"""``manage.py users ...``: create, list, set-password, deactivate, activate, add-role, remove-role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from flask.cli import AppGroup

from console.extensions import db
from console.security.policy import ROLES
from console.services import users as user_service
from console.services.errors import ServiceError
from console.versioning import acting_as


def run_service(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` as the CLI system actor in one transaction; a ServiceError exits 1 with its message."""
    with acting_as("system:cli"):
        try:
            result = fn()
            db.session.commit()
            return result
        except ServiceError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None


@click.group("users", cls=AppGroup)
def users() -> None:
    """Manage console accounts."""


@users.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(list(ROLES)), help="The user's role.")
@click.option("--password", help="The password (else you are prompted, or use --generate).")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
def create(email: str, role: str, password: str | None, generate: bool) -> None:
    """Create EMAIL with ROLE."""
    if password is None and not generate:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user, used = run_service(lambda: user_service.create_user(email, role, password))
    click.echo(f"Created {user.email} ({role}).")
    if generate:
        click.echo(f"Password: {used}")


@users.command("list")
def list_users() -> None:
    """List accounts with their roles and state."""
    for user in user_service.list_users():
        state = "active" if user.active else "inactive"
        click.echo(f"{user.email}\t{','.join(user.role_names)}\t{state}")


@users.command("set-password")
@click.argument("email")
@click.option("--password", help="The new password (else you are prompted).")
def set_password(email: str, password: str | None) -> None:
    """Set EMAIL's password (signs the user out everywhere)."""
    if password is None:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    run_service(lambda: user_service.set_password(email, password))
    click.echo(f"Password changed for {email}.")


@users.command("deactivate")
@click.argument("email")
def deactivate(email: str) -> None:
    """Stop EMAIL from signing in."""
    run_service(lambda: user_service.set_active(email, False))
    click.echo(f"Deactivated {email}.")


@users.command("activate")
@click.argument("email")
def activate(email: str) -> None:
    """Let EMAIL sign in again."""
    run_service(lambda: user_service.set_active(email, True))
    click.echo(f"Activated {email}.")


@users.command("add-role")
@click.argument("email")
@click.argument("role", type=click.Choice(list(ROLES)))
def add_role(email: str, role: str) -> None:
    """Give EMAIL the role ROLE."""
    run_service(lambda: user_service.add_role(email, role))
    click.echo(f"{email} now has the role {role}.")


@users.command("remove-role")
@click.argument("email")
@click.argument("role", type=click.Choice(list(ROLES)))
def remove_role(email: str, role: str) -> None:
    """Take ROLE away from EMAIL."""
    run_service(lambda: user_service.remove_role(email, role))
    click.echo(f"{email} no longer has the role {role}.")
