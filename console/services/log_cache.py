"""Memory bounds for the log viewer: a byte-budgeted cache of parsed logs and a limit on
concurrent uncached log reads.

Measured on 50,000 sandbox lines of ~64 characters: a parsed record costs ~310 bytes
(the tuple, its number, its time and its text; the level is one shared string), so
:func:`record_size` estimates ``RECORD_OVERHEAD`` plus the characters it holds.  The
cache evicts the least recently used logs once the estimates add up to its budget;
a log larger than the whole budget is never cached.

Both objects live in ``app.extensions["logs"]`` (one per process): every worker of a
multi-process server has its own budget and its own read limits.  With Redis
(``CONSOLE_REDIS_URL``) a parsed log of at most ``LOG_SHARED_MAX_BYTES`` is also kept in the
shared read cache, so that a log the scheduler's run monitor warmed opens at once in every web
worker (:func:`shared_get`, :func:`shared_put`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from console.services.read_cache import lifetime, read_cache

#: A :class:`~console.services.logs.LogRecord` as a plain tuple ``(n, time, level, text, group)``:
#: how records are held (a plain tuple is smaller and faster to build than a named one).
RecordTuple = tuple[int, str, str, str, bool]

#: Bytes a parsed record costs besides its characters (measured: see the module docstring).
RECORD_OVERHEAD = 224


def record_size(time_text: str, text: str) -> int:
    """The estimated memory of one parsed record holding ``time_text`` and ``text``."""
    chars = len(time_text) + len(text)
    return RECORD_OVERHEAD + (chars if text.isascii() else 4 * chars)


def read_capped(records: Iterable[RecordTuple], max_lines: int, max_bytes: int) -> tuple[list[RecordTuple], int, bool]:
    """``(records, estimated bytes, truncated)``: the records until the next would pass
    ``max_lines`` or ``max_bytes``.  It stops there: the caller closes the stream, so a longer
    log is never read to its end."""
    kept: list[RecordTuple] = []
    size = 0
    for record in records:
        cost = record_size(record[1], record[3])
        if len(kept) >= max_lines or size + cost > max_bytes:
            return kept, size, True
        kept.append(record)
        size += cost
    return kept, size, False


@dataclass(frozen=True)
class ParsedLog:
    """A try's records as the viewer holds them: at most the configured cap, ``truncated`` if the
    log had more; ``size`` is their estimated memory."""

    records: list[RecordTuple]
    state: str | None
    finished: bool
    truncated: bool = False
    size: int = 0


@dataclass
class _Entry:
    value: Any
    size: int
    expires: float


class LogCache:
    """A least-recently-used cache bounded by the estimated bytes of its entries, with a TTL
    (seconds, or a function giving the current ones: the ``cache_seconds_log`` setting).

    Thread-safe; ``clock`` is :func:`time.monotonic` (tests pass their own)."""

    def __init__(
        self, max_bytes: int, ttl: float | Callable[[], float], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.bytes = 0

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires <= self._clock():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry.value

    def put(self, key: Hashable, value: Any, size: int) -> bool:
        """Keep ``value`` (estimated at ``size`` bytes), evicting the least recently used entries
        to stay within the budget; ``False`` (and nothing kept) if it alone exceeds the budget."""
        with self._lock:
            if key in self._entries:
                self._drop(key)
            if size > self.max_bytes:
                return False
            while self._entries and self.bytes + size > self.max_bytes:
                self._drop(next(iter(self._entries)))
            ttl = self.ttl() if callable(self.ttl) else self.ttl
            self._entries[key] = _Entry(value, size, self._clock() + ttl)
            self.bytes += size
            return True

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every log (the benchmark's uncached reads)."""
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def _drop(self, key: Hashable) -> None:
        self.bytes -= self._entries.pop(key).size


class TooManyLogReads(Exception):
    """Too many uncached log reads are running for this user or this server."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__(
            f"Too many logs are being read {scope} right now. Wait a few seconds and try again "
            "(pages of a log already read open at once)."
        )


@dataclass
class ReadLimiter:
    """At most ``per_user`` concurrent reads for one user and ``per_server`` for one server.

    A read waits up to ``wait`` seconds for a free slot, then raises :class:`TooManyLogReads`."""

    per_user: int
    per_server: int
    wait: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _slots: dict[tuple[str, Hashable], threading.BoundedSemaphore] = field(default_factory=dict)

    def _semaphore(self, kind: str, key: Hashable) -> threading.BoundedSemaphore:
        with self._lock:
            slot = self._slots.get((kind, key))
            if slot is None:
                slot = threading.BoundedSemaphore(self.per_user if kind == "user" else self.per_server)
                self._slots[(kind, key)] = slot
            return slot

    @contextmanager
    def slot(self, user: Hashable, server: Hashable) -> Iterator[None]:
        """Hold one read slot of ``user`` and one of ``server`` for the ``with`` block."""
        mine = self._semaphore("user", user)
        if not mine.acquire(timeout=self.wait):
            raise TooManyLogReads("for you")
        try:
            theirs = self._semaphore("server", server)
            if not theirs.acquire(timeout=self.wait):
                raise TooManyLogReads("from this server")
            try:
                yield
            finally:
                theirs.release()
        finally:
            mine.release()


class KeyedLocks:
    """One lock per key, alive while anybody holds or waits for it: concurrent reads of one log
    wait for the first, which then leaves the log in the cache for them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[Hashable, tuple[threading.Lock, list[int]]] = {}

    def users(self, key: Hashable) -> int:
        """How many hold or wait for ``key``'s lock."""
        with self._lock:
            entry = self._locks.get(key)
            return entry[1][0] if entry else 0

    @contextmanager
    def hold(self, key: Hashable) -> Iterator[None]:
        with self._lock:
            lock, users = self._locks.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._lock:
                users[0] -= 1
                if users[0] == 0:
                    del self._locks[key]


@dataclass
class LogMemory:
    """The per-process objects :mod:`console.services.logs` uses."""

    cache: LogCache
    reads: ReadLimiter
    flights: KeyedLocks = field(default_factory=KeyedLocks)


def init_app(app: Flask) -> None:
    config = app.config
    app.extensions["logs"] = LogMemory(
        cache=LogCache(int(config["LOG_CACHE_MAX_BYTES"]), lambda: float(lifetime("log", app))),
        reads=ReadLimiter(
            per_user=int(config["LOG_READS_PER_USER"]),
            per_server=int(config["LOG_READS_PER_SERVER"]),
            wait=float(config["LOG_READ_WAIT_SECONDS"]),
        ),
    )


def log_memory() -> LogMemory:
    return current_app.extensions["logs"]  # type: ignore[no-any-return]


def shared_get(key: str) -> ParsedLog | None:
    """A log another process kept in the shared cache (copied into this process's cache)."""
    store = read_cache()
    if store.redis is None:
        return None
    parsed: ParsedLog | None = store.raw_get(f"log:{key}")
    if parsed is not None:
        log_memory().cache.put(key, parsed, parsed.size)
    return parsed


def shared_put(key: str, parsed: ParsedLog) -> None:
    """Share a finished log with the other processes, if it is small enough and Redis is set."""
    store = read_cache()
    seconds = lifetime("log")
    if store.redis is not None and seconds > 0 and parsed.size <= int(current_app.config["LOG_SHARED_MAX_BYTES"]):
        store.raw_set(f"log:{key}", parsed, timeout=seconds)
