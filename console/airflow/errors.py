"""Errors the Airflow client raises.

Every error names the Airflow server (``.server``, the console's name for it)
and carries a short human ``.reason``; ``str(exc)`` is both together and is
safe to show to a person: it never holds a token, a password, a traceback or a
raw response body.  Views catch :class:`AirflowError` and show ``str(exc)``.
"""

from __future__ import annotations


class AirflowError(Exception):
    """Something went wrong talking to one Airflow server."""

    default_reason = "the request to Airflow failed"

    def __init__(self, server: str, reason: str | None = None, *, status: int | None = None) -> None:
        self.server = server
        self.reason = reason or self.default_reason
        #: HTTP status Airflow answered with, when there was an answer.
        self.status = status
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"Airflow server {self.server!r}: {self.reason}"

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(server={self.server!r}, reason={self.reason!r}, status={self.status!r})"


class AirflowUnavailable(AirflowError):
    """Airflow cannot be reached or is not working: connection refused, DNS,
    timeout, TLS failure, 5xx, or still overloaded after the retries."""

    default_reason = "Airflow is unavailable"


class AirflowAuthError(AirflowError):
    """Airflow refused the credentials (401 after one token refresh) or the
    user lacks the permission (403)."""

    default_reason = "Airflow refused the credentials"


class AirflowNotFound(AirflowError):
    """404: the DAG, run, task or log does not exist (or is not visible)."""

    default_reason = "not found"


class AirflowConflict(AirflowError):
    """409: e.g. a run with that run id already exists."""

    default_reason = "conflict with the current state"


class AirflowBadRequest(AirflowError):
    """400/422: Airflow rejected the request; ``reason`` is Airflow's own
    ``detail`` made readable (e.g. invalid DAG params)."""

    default_reason = "Airflow rejected the request"


class AirflowUnexpectedPayload(AirflowError):
    """Airflow answered, but with something this console cannot read (not
    JSON, or JSON of the wrong shape)."""

    default_reason = "Airflow sent an answer the console cannot read"


__all__ = [
    "AirflowAuthError",
    "AirflowBadRequest",
    "AirflowConflict",
    "AirflowError",
    "AirflowNotFound",
    "AirflowUnavailable",
    "AirflowUnexpectedPayload",
]
