"""``manage.py settings ...``: list, set and clear console settings (the settings page's rules)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from console.services import settings as settings_service
from console.services.settings_registry import REGISTRY
from console.versioning import acting_as


@click.group("settings", cls=AppGroup)
def settings() -> None:
    """Show and change console settings."""


@settings.command("list")
def list_settings() -> None:
    """Every setting: name, current value (secrets: set or not), and whether the deployment pins it."""
    for entry in settings_service.entries():
        d = entry.definition
        shown = ("(set)" if entry.secret_set else "(not set)") if d.secret else entry.current.replace("\n", ", ")
        pinned = "  [set by the deployment]" if entry.pinned else ""
        click.echo(f"{d.name} = {shown}{pinned}")


@settings.command("set")
@click.argument("name", type=click.Choice([d.name for d in REGISTRY]))
@click.argument("value", required=False)
def set_setting(name: str, value: str | None) -> None:
    """Set NAME to VALUE (a secret is prompted for when VALUE is left out)."""
    if value is None:
        value = click.prompt(name, hide_input=True)
    _save({name: value}, ())


@settings.command("clear")
@click.argument("name", type=click.Choice([d.name for d in REGISTRY if d.secret]))
def clear_setting(name: str) -> None:
    """Remove the stored secret NAME."""
    _save({}, (name,))


def _save(raw: dict[str, str], clear: tuple[str, ...]) -> None:
    with acting_as("system:cli"):
        try:
            changed = settings_service.save(raw, clear=clear)
        except settings_service.SettingsInvalid as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"Changed: {', '.join(changed)}." if changed else "Nothing changed.")
