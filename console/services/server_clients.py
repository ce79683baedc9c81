"""Calling enabled Airflow servers: resolve one, say why one cannot answer, ask many at once.

Shared by every service that reads from or acts on Airflow (the DAG screens,
the log viewer, the DAG actions).  Nothing here raises
:class:`~console.airflow.errors.AirflowError` for a server that is down, slow,
misconfigured or refuses the credentials: that server comes back as a
:class:`ServerFailure`, next to the answers of the servers that replied.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from console.airflow.errors import AirflowError
from console.airflow.registry import client_for
from console.extensions import db
from console.models import AirflowServer
from console.security.secrets import SecretUnreadable
from console.services.errors import ServiceError

if TYPE_CHECKING:
    from console.airflow.client import AirflowClient

T = TypeVar("T")


@dataclass(frozen=True)
class ServerFailure:
    """A server that could not answer, and why, for a banner."""

    server_name: str
    reason: str

    @classmethod
    def from_error(cls, exc: AirflowError) -> ServerFailure:
        return cls(server_name=exc.server, reason=exc.reason)

    @property
    def message(self) -> str:
        return f"Airflow server {self.server_name!r}: {self.reason}"


@dataclass(frozen=True)
class ServerHandle:
    """A server resolved for one request: its id, name and client."""

    id: int
    name: str
    _client: AirflowClient | ServerFailure

    @property
    def client(self) -> AirflowClient:
        """The client; :class:`AirflowError` if none could be built (so callers that already
        handle Airflow's failures handle this one too)."""
        if isinstance(self._client, ServerFailure):
            raise AirflowError(self.name, self._client.reason)
        return self._client


class UnknownServer(ServiceError):
    """The server id names no enabled server (a 404 for the screens)."""


def client_or_failure(server: AirflowServer) -> AirflowClient | ServerFailure:
    """The server's client, or why there is none (a misconfigured row or a secret that cannot be
    decrypted must not hide the other servers)."""
    try:
        return client_for(server)
    except AirflowError as exc:
        return ServerFailure.from_error(exc)
    except SecretUnreadable as exc:
        return ServerFailure(server.name, str(exc))


def resolve_server(server_id: int) -> ServerHandle:
    """The enabled server ``server_id`` with its client, or :class:`UnknownServer`."""
    server = db.session.get(AirflowServer, server_id)
    if server is None or not server.enabled:
        raise UnknownServer(f"There is no enabled Airflow server with id {server_id}.")
    return ServerHandle(server.id, server.name, client_or_failure(server))


def fan_out(calls: dict[int, tuple[str, Callable[[], T]]], deadline: float) -> dict[int, T | ServerFailure]:
    """Run ``calls`` (``{server_id: (server_name, fn)}``) in parallel, one thread each.

    Returns each result, or a :class:`ServerFailure` when ``fn`` raised an
    :class:`AirflowError` or had not finished after ``deadline`` seconds (the
    thread is then left to finish on its own; its result is dropped).  ``fn``
    must not need the Flask app or request context.
    """
    if not calls:
        return {}
    pool = ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="airflow-fanout")
    try:
        futures = {sid: pool.submit(fn) for sid, (_name, fn) in calls.items()}
        wait_futures(futures.values(), timeout=deadline)
        out: dict[int, T | ServerFailure] = {}
        for sid, future in futures.items():
            name = calls[sid][0]
            if not future.done():
                out[sid] = ServerFailure(name, f"no answer within {deadline:g} s")
                continue
            exc = future.exception()
            if isinstance(exc, AirflowError):
                out[sid] = ServerFailure.from_error(exc)
            elif exc is not None:
                raise exc
            else:
                out[sid] = future.result()
        return out
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
