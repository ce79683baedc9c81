"""One cache for reads from Airflow: keyed per server and query, a lifetime per kind of read,
one upstream call per key however many requests miss it at once, and writes that drop exactly
what they change.

The values live in Flask-Caching's backend (``console.extensions.cache``): in-process by
default, Redis when ``CONSOLE_REDIS_URL`` is set, so that every worker shares them.

* **Keys**: ``<kind>:<server id>:<generations>:<digest of the query>``.  The generations are
  random tokens kept in the cache: the server's for kinds that list many DAGs (``dag_list``),
  the DAG's for reads of one DAG (``dag_id=``).  A write through the console bumps the DAG's
  and its server's (:func:`invalidate`), so the next read of those keys misses and nothing
  else does: other DAGs' details and other servers' entries stay.
* **Lifetimes**: :func:`lifetime` (``CACHE_SECONDS[kind]``).  A failure (the loader raised an
  :class:`~console.airflow.errors.AirflowError`, or answered a ``ServerFailure``) is kept only
  ``CACHE_FAILURE_SECONDS``: a down server is not asked by every request, and recovers fast.
* **Unsettled answers**: a read whose answer can still change by itself (a run that is still
  running) passes ``settled=``; an answer it calls unsettled is kept only ``UNSETTLED_SECONDS``,
  enough for concurrent requests to share one call, never long enough to show a finished run
  as running.
* **Single flight**: concurrent misses of one key in a process wait for the first one's call
  (a per-key future).  With Redis, processes take a lock (``SET NX PX``, lease
  ``CACHE_LOCK_SECONDS``); the others poll the cache for the value and, after
  ``CACHE_WAIT_SECONDS`` without one, call Airflow themselves.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask, current_app
from redis.exceptions import RedisError

from console.airflow import errors
from console.airflow.errors import AirflowError
from console.metrics import CACHE_LOOKUPS

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Kinds whose keys hold the server's generation (they list many DAGs of it).
SERVER_WIDE = ("dag_list",)
#: The generation every key of a server holds: bumped when the server itself is edited.
SERVER_EPOCH = "server"
POLL_SECONDS = 0.05
UNSETTLED_SECONDS = 1
Settled = Callable[[Any], bool]


def lifetime(kind: str, app: Flask | None = None) -> int:
    """Seconds a ``kind`` of read is kept (the ``cache_seconds_<kind>`` setting, by default
    ``CACHE_SECONDS``): the one place that says so.  ``app`` for callers outside an app context."""
    from console.services.settings import value_in

    return int(value_in(app or current_app, f"cache_seconds_{kind}"))


@dataclass(frozen=True)
class Failed:
    """A failure as the cache holds it; :meth:`error` rebuilds the exception."""

    kind: str
    server: str
    reason: str
    status: int | None

    @classmethod
    def of(cls, exc: AirflowError) -> Failed:
        return cls(type(exc).__name__, exc.server, exc.reason, exc.status)

    def error(self) -> AirflowError:
        kind = getattr(errors, self.kind, AirflowError)
        if not (isinstance(kind, type) and issubclass(kind, AirflowError)):
            kind = AirflowError
        return kind(self.server, self.reason, status=self.status)


def _is_failure(value: Any) -> bool:
    from console.services.server_clients import ServerFailure

    return isinstance(value, ServerFailure)


@dataclass
class ReadCache:
    """The process's read cache over a Flask-Caching backend (usable without an app context)."""

    app: Flask
    backend: Any
    failure_seconds: float
    lock_seconds: float
    wait_seconds: float
    redis: Any = None
    prefix: str = ""
    #: ``loads`` (upstream calls), ``hits``, ``joined`` (waited for this process's call),
    #: ``waited`` (polled for another process's call), ``gave_up`` (waited, then called).
    stats: Counter[str] = field(default_factory=Counter)
    _flights: dict[str, Future[tuple[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- keys and generations ------------------------------------------------------------

    def generation(self, *scope: Hashable) -> str:
        key = "gen:" + ":".join(map(str, scope))
        token = self.raw_get(key)
        if token is None:
            self._safely(self.backend.add, key, uuid.uuid4().hex[:12], timeout=0)  # never expires
            token = self.raw_get(key)
        return str(token or "-")

    def bump(self, *scope: Hashable) -> None:
        self.raw_set("gen:" + ":".join(map(str, scope)), uuid.uuid4().hex[:12], timeout=0)

    # --- the backend, where Redis being down is a miss, never an error page ---------------

    def _safely(self, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return operation(*args, **kwargs)
        except RedisError as exc:
            self.stats["backend_errors"] += 1
            log.warning("the read cache cannot reach Redis (%s): asking Airflow directly", exc)
            return None

    def raw_get(self, key: str) -> Any:
        return self._safely(self.backend.get, key)

    def raw_set(self, key: str, value: Any, timeout: int) -> None:
        self._safely(self.backend.set, key, value, timeout=timeout)

    def key(self, kind: str, server_id: int, key_parts: Hashable, dag_id: str | None = None) -> str:
        gens = [self.generation(server_id, SERVER_EPOCH)]
        if kind in SERVER_WIDE:
            gens.append(self.generation(server_id))
        if dag_id is not None:
            gens.append(self.generation(server_id, dag_id))
        digest = hashlib.sha1(repr(key_parts).encode(), usedforsecurity=False).hexdigest()[:20]
        return f"{kind}:{server_id}:{'.'.join(gens)}:{digest}"

    # --- reading -------------------------------------------------------------------------

    def peek(self, key: str) -> tuple[str, Any] | None:
        """The cached entry of ``key`` (``("ok", value)`` or ``("failed", Failed)``), if any."""
        entry = self.raw_get(key)
        if entry is not None:
            self.stats["hits"] += 1
        return entry  # type: ignore[no-any-return]

    def get_or_load(self, key: str, kind: str, loader: Callable[[], T], settled: Settled | None = None) -> T:
        """``key``'s value: cached, else from the one call of ``loader`` this key is waiting for
        (``loader`` runs at most once per key at a time per process, and once across processes
        with Redis).  An :class:`AirflowError` the loader raised is raised to every waiter."""
        entry = self.lookup(key, kind)
        return self.load(key, kind, loader, settled) if entry is None else _unwrap(entry)  # type: ignore[no-any-return]

    def lookup(self, key: str, kind: str) -> tuple[str, Any] | None:
        """:meth:`peek`, counted as a hit or a miss of ``kind`` in ``console_cache_lookups``."""
        entry = self.peek(key)
        CACHE_LOOKUPS.labels(kind, "miss" if entry is None else "hit").inc()
        return entry

    def load(self, key: str, kind: str, loader: Callable[[], T], settled: Settled | None = None) -> T:
        """After a missed :meth:`lookup`: ``loader``'s answer through the single flight (which
        checks the cache again, uncounted), stored for the next request."""
        return _unwrap(self._single_flight(key, kind, _Load(loader, settled)))  # type: ignore[no-any-return]

    def _single_flight(self, key: str, kind: str, loader: _Load) -> tuple[str, Any]:
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = Future()
        if not leader:
            self.stats["joined"] += 1
            try:
                return flight.result(timeout=self.wait_seconds)
            except FutureTimeout:
                self.stats["gave_up"] += 1
                return self._load(key, kind, loader)
        try:
            entry = self.peek(key) or self._across_processes(key, kind, loader)
        except BaseException as exc:
            flight.set_exception(exc)
            raise
        else:
            flight.set_result(entry)
            return entry
        finally:
            with self._lock:
                self._flights.pop(key, None)

    def _across_processes(self, key: str, kind: str, loader: _Load) -> tuple[str, Any]:
        if self.redis is None or lifetime(kind, self.app) == 0:
            return self._load(key, kind, loader)  # nothing shared to wait for
        lock, token = f"{self.prefix}lock:{key}", uuid.uuid4().hex
        try:
            locked = self.redis.set(lock, token, nx=True, px=max(1, int(self.lock_seconds * 1000)))
        except RedisError:
            return self._load(key, kind, loader)  # no shared cache to wait on
        if locked:
            try:
                return self.peek(key) or self._load(key, kind, loader)
            finally:
                if self._safely(self.redis.get, lock) == token.encode():
                    self._safely(self.redis.delete, lock)
        self.stats["waited"] += 1
        deadline = time.monotonic() + self.wait_seconds
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            entry = self.peek(key)
            if entry is not None:
                return entry
        self.stats["gave_up"] += 1
        return self._load(key, kind, loader)

    def _load(self, key: str, kind: str, loader: _Load) -> tuple[str, Any]:
        self.stats["loads"] += 1
        try:
            value = loader.call()
        except AirflowError as exc:
            entry: tuple[str, Any] = ("failed", Failed.of(exc))
        else:
            entry = ("ok", value)
        settled = entry[0] == "failed" or loader.settled is None or loader.settled(entry[1])
        self.store(key, kind, entry, settled=settled)
        return entry

    def store(self, key: str, kind: str, entry: tuple[str, Any], *, settled: bool = True) -> None:
        failed = entry[0] == "failed" or _is_failure(entry[1])
        seconds: float = lifetime(kind, self.app)
        if failed:
            seconds = min(self.failure_seconds, seconds)
        elif not settled:
            seconds = min(UNSETTLED_SECONDS, seconds)
        if seconds > 0:
            # A float timeout would round to "never expires" in some backends.
            self.raw_set(key, entry, timeout=max(1, round(seconds)))


@dataclass(frozen=True)
class _Load:
    call: Callable[[], Any]
    settled: Settled | None = None


def _unwrap(entry: tuple[str, Any]) -> Any:
    status, value = entry
    if status == "failed":
        raise value.error()
    return value


def init_app(app: Flask) -> None:
    """Bind the read cache to the app's Flask-Caching backend (after ``cache.init_app``)."""
    from console.extensions import cache

    config = app.config
    backend = app.extensions["cache"][cache]
    redis = getattr(backend, "_write_client", None)
    app.extensions["read_cache"] = ReadCache(
        app=app,
        backend=backend,
        failure_seconds=float(config["CACHE_FAILURE_SECONDS"]),
        lock_seconds=float(config["CACHE_LOCK_SECONDS"]),
        wait_seconds=float(config["CACHE_WAIT_SECONDS"]),
        redis=redis,
        prefix=str(getattr(backend, "key_prefix", "") or ""),
    )


def read_cache() -> ReadCache:
    return current_app.extensions["read_cache"]  # type: ignore[no-any-return]


def cached(
    kind: str,
    server_id: int,
    key_parts: Hashable,
    loader: Callable[[], T],
    *,
    dag_id: str | None = None,
    settled: Settled | None = None,
) -> T:
    """``loader()``'s answer for ``kind`` on ``server_id`` and the query ``key_parts``, through
    the cache (see the module docstring); ``dag_id`` ties the entry to that DAG's writes, and
    ``settled(answer)`` false keeps an answer that may still change only briefly."""
    store = read_cache()
    return store.get_or_load(store.key(kind, server_id, key_parts, dag_id), kind, loader, settled)


def invalidate(server_id: int, dag_id: str | None = None) -> None:
    """After a write through the console: forget the server's lists and, with ``dag_id``, that
    DAG's reads; nothing else."""
    store = read_cache()
    store.bump(server_id)
    if dag_id is not None:
        store.bump(server_id, dag_id)


def forget_server(server_id: int) -> None:
    """After the server itself was edited: forget every entry of it."""
    read_cache().bump(server_id, SERVER_EPOCH)
