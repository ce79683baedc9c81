"""``manage.py audit purge [--dry-run]``: delete audit rows older than the retention, now.

The scheduler's leader runs the same purge once a day; this is for an operator who wants it
at once, or wants to see first what it would delete. Nothing else edits or deletes audit rows.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from console.services import audit_retention
from console.services.audit import CLI_ACTOR
from console.versioning import acting_as


@click.group("audit", cls=AppGroup)
def audit() -> None:
    """The audit trail."""


@audit.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
def purge(dry_run: bool) -> None:
    """Delete audit events and superseded versions older than AUDIT_RETENTION_DAYS."""
    with acting_as(CLI_ACTOR):
        report = audit_retention.purge(actor=CLI_ACTOR, dry_run=dry_run)
    verb = "Would delete" if dry_run else "Deleted"
    click.echo(
        f"{verb} {report.total} rows older than {report.cutoff:%Y-%m-%d %H:%M} UTC ({report.retention_days} days):"
    )
    for table, count in report.deleted.items():
        click.echo(f"  {table}\t{count}")
