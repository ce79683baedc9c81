"""Click command groups that ``manage.py`` exposes, one module per domain."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from console.cli.setup import seed_demo, setup
    from console.cli.users import users

    app.cli.add_command(users)
    app.cli.add_command(setup)
    app.cli.add_command(seed_demo)
    for name in ("sandbox", "scheduler", "servers"):
        try:
            module = __import__(f"console.cli.{name}", fromlist=["commands"])
        except ImportError:
            continue
        for command in module.commands:
            app.cli.add_command(command)
