"""Click command groups that ``manage.py`` exposes, one module per domain."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from console.cli.audit import audit
    from console.cli.settings import settings
    from console.cli.setup import seed_demo, setup
    from console.cli.users import users

    app.cli.add_command(audit)
    app.cli.add_command(users)
    app.cli.add_command(settings)
    app.cli.add_command(setup)
    app.cli.add_command(seed_demo)
    from console.cli import sandbox, scheduler, worker

    for module in (sandbox, scheduler, worker):
        for command in module.commands:
            app.cli.add_command(command)
