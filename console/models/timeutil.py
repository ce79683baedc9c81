"""Time helpers for models: every stored timestamp is naive UTC."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now as a naive UTC datetime, the form every column stores."""
    return datetime.now(UTC).replace(tzinfo=None)
