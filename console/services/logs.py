"""Task logs for the log viewer: records, pages, level filter, search, download.

A log is read from Airflow as ndjson through
:meth:`~console.airflow.client.AirflowClient.iter_log_lines` (never the whole
JSON answer at once) and turned into :class:`LogRecord` tuples: a 1-based line
number, an ISO time, a level, and the text with ANSI escape codes removed (a
traceback in ``error_detail`` is appended to its message's text).  Airflow's
``::group::`` markers become section headings; ``::endgroup::`` lines are
dropped.

Paging decision (measured on the sandbox with the 50,000-line log: streaming
takes ~3 s whatever the page, because Airflow reads the whole file before the
first byte): the records of a *finished* try are cached in this process for
``CACHE_SECONDS["log"]`` under one key per (server, dag, run, task, map index,
try), so the first page pays one stream and every other page, filter or search
costs milliseconds.  A try that may still grow (its task is running) is
re-streamed on every request, so follow mode always sees the newest lines.

Memory (see :mod:`console.services.log_cache`): the cache has a byte budget
(``LOG_CACHE_MAX_BYTES``); the viewer keeps at most ``LOG_MAX_LINES`` lines or
``LOG_MAX_BYTES`` bytes of one log, closes the stream there and says the log was
truncated (the download streams it all); and uncached reads are limited per
user and per server, answering "too many reads" instead of queueing.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from flask import current_app

from console.airflow.errors import AirflowError, AirflowNotFound
from console.models.states import TaskInstanceState
from console.services import settings
from console.services.log_cache import (
    ParsedLog,
    RecordTuple,
    TooManyLogReads,
    log_memory,
    read_capped,
    shared_get,
    shared_put,
)
from console.services.server_clients import ServerFailure, ServerHandle, resolve_server

if TYPE_CHECKING:
    from console.airflow.client import LogLine, TaskInstance

MAX_LIMIT = 2000
MAX_MATCHES = 5000
LEVELS = ("debug", "info", "warning", "error", "critical")
# Aliases map to the names in LEVELS, and a record keeps that one shared string (not a copy per line).
_LEVEL_NAMES = {name: name for name in LEVELS} | {
    "warn": "warning",
    "fatal": "critical",
    "exception": "error",
    "err": "error",
}

# CSI sequences (colours, cursor moves), OSC sequences (titles, links), and two-byte escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]")
_GROUP_START = "::group::"
_GROUP_END = "::endgroup::"


def _log_timeout() -> float:
    """Airflow reads a whole log file before it sends the first byte: allow longer than other reads."""
    return float(current_app.config["AIRFLOW_LOG_READ_TIMEOUT"])


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences or other control characters (tabs and newlines kept)."""
    if text.isprintable():  # the usual line: nothing to strip, and far cheaper than the regex
        return text
    return _ANSI.sub("", text)


def normalize_level(level: str | None) -> str:
    """A level from :data:`LEVELS` (``""`` when unknown or missing)."""
    return _LEVEL_NAMES.get((level or "").strip().lower(), "")


class LogRecord(NamedTuple):
    """One line of the viewer; ``group`` marks a section heading."""

    n: int
    time: str
    level: str
    text: str
    group: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "time": self.time or None,
            "level": self.level or None,
            "text": self.text,
            "group": self.group,
        }

    def as_text(self) -> str:
        """The line as in a downloaded ``.log`` file."""
        parts = [p for p in (self.time, f"[{self.level}]" if self.level else "", self.text) if p]
        return " ".join(parts)


def format_error_detail(detail: Any) -> str:
    """Airflow's structured ``error_detail`` (a list of exceptions with frames) as a Python-style traceback."""
    if not isinstance(detail, list):
        return ""
    out = []
    for exc in detail:
        if not isinstance(exc, dict):
            continue
        out.append("Traceback (most recent call last):")
        for frame in exc.get("frames") or []:
            if isinstance(frame, dict):
                out.append(f'  File "{frame.get("filename")}", line {frame.get("lineno")}, in {frame.get("name")}')
        out.append(f"{exc.get('exc_type', 'Exception')}: {exc.get('exc_value', '')}")
    return "\n".join(out)


def to_records(lines: Iterable[LogLine]) -> Iterator[LogRecord]:
    """Airflow log lines -> viewer records, numbered from 1."""
    return map(LogRecord._make, record_tuples(lines))


def record_tuples(lines: Iterable[LogLine]) -> Iterator[RecordTuple]:
    """:func:`to_records` as plain tuples (what the cache holds)."""
    n = 0
    for line in lines:
        text = line.event
        if text.strip() == _GROUP_END:
            continue
        group = text.startswith(_GROUP_START)
        if group:
            text = text[len(_GROUP_START) :]
        if "error_detail" in line.extra:
            traceback = format_error_detail(line.extra["error_detail"])
            text = f"{text}\n{traceback}" if traceback else text
        n += 1
        stamp = line.timestamp.isoformat(timespec="milliseconds") if line.timestamp else ""
        yield (n, stamp, normalize_level(line.level), strip_ansi(text), group)


def filter_level(records: Sequence[RecordTuple], level: str) -> Sequence[RecordTuple]:
    """Records at ``level`` or above; lines without a level (plain prints) are always kept."""
    if level not in LEVELS or level == LEVELS[0]:
        return records
    floor = LEVELS.index(level)
    return [r for r in records if not r[2] or LEVELS.index(r[2]) >= floor]


def search(records: Sequence[RecordTuple], query: str, limit: int = MAX_MATCHES) -> tuple[list[int], int]:
    """Case-insensitive substring search: ``(positions of the first limit matches, match count)``."""
    needle = query.casefold()
    if not needle:
        return [], 0
    positions = [i for i, r in enumerate(records) if needle in r[3].casefold()]
    return positions[:limit], len(positions)


@dataclass(frozen=True)
class PageBounds:
    offset: int
    end: int
    page: int
    pages: int


def page_bounds(total: int, offset: int, limit: int) -> PageBounds:
    """The page of ``limit`` records that holds position ``offset``, aligned to ``limit``.

    An offset past the end gives the last page (so a follower asking for
    "what comes after what I have" on a log that shrank still gets lines);
    page numbers start at 1 and an empty log has one empty page.
    """
    limit = max(1, limit)
    pages = max(1, -(-total // limit))
    page = min(max(0, offset) // limit, pages - 1)
    start = page * limit
    return PageBounds(offset=start, end=min(total, start + limit), page=page + 1, pages=pages)


@dataclass(frozen=True)
class TaskLogRef:
    server_id: int
    dag_id: str
    run_id: str
    task_id: str
    try_number: int
    map_index: int = -1

    @property
    def cache_key(self) -> str:
        return (
            f"dags:log:{self.server_id}:{self.dag_id}:{self.run_id}:{self.task_id}:{self.map_index}:{self.try_number}"
        )

    @property
    def filename(self) -> str:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.dag_id}__{self.run_id}__{self.task_id}")
        suffix = f"__map{self.map_index}" if self.map_index >= 0 else ""
        return f"{safe}{suffix}__try{self.try_number}.log"


@dataclass
class LogSlice:
    """What the viewer's JSON endpoint answers."""

    ref: TaskLogRef
    records: list[LogRecord] = field(default_factory=list)
    bounds: PageBounds = PageBounds(0, 0, 1, 1)
    total: int = 0
    total_lines: int = 0
    matches: list[int] = field(default_factory=list)
    match_count: int = 0
    state: str | None = None
    finished: bool = False
    truncated: bool = False
    failure: ServerFailure | None = None
    not_found: bool = False
    busy: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": [r.to_json() for r in self.records],
            "offset": self.bounds.offset,
            "page": self.bounds.page,
            "pages": self.bounds.pages,
            "total": self.total,
            "total_lines": self.total_lines,
            "matches": self.matches,
            "match_count": self.match_count,
            "state": self.state,
            "finished": self.finished,
            "truncated": self.truncated,
            "failure": None
            if self.failure is None
            else {"server": self.failure.server_name, "message": self.failure.message},
            "not_found": self.not_found,
            "busy": self.busy is not None,
            "message": self.busy,
        }


def task_instance_of(tasks: Iterable[TaskInstance], ref: TaskLogRef) -> TaskInstance | None:
    """The task instance among a run's ``tasks`` that ``ref`` names, if it has ``ref``'s try."""
    for ti in tasks:
        if ti.task_id == ref.task_id and ti.map_index == ref.map_index:
            return ti if 1 <= ref.try_number <= max(ti.try_number, 1) else None
    return None


def find_task_instance(server: ServerHandle, ref: TaskLogRef) -> TaskInstance:
    """The task instance ``ref`` names (:class:`AirflowNotFound` if the run has no such task or try)."""
    ti = task_instance_of(server.client.list_task_instances(ref.dag_id, ref.run_id), ref)
    if ti is None:
        raise AirflowNotFound(server.name, f"run {ref.run_id!r} has no try {ref.try_number} of task {ref.task_id!r}")
    return ti


def _finished(ti: TaskInstance, try_number: int) -> bool:
    return try_number < ti.try_number or (ti.state or "") in TaskInstanceState.FINAL


def _cached_log(ref: TaskLogRef) -> ParsedLog | None:
    return log_memory().cache.get(ref.cache_key) or shared_get(ref.cache_key)


def read_records(server: ServerHandle, ref: TaskLogRef, reader: Hashable, ti: TaskInstance | None = None) -> ParsedLog:
    """The try's records, from the cache when the try is finished; otherwise read within a read
    slot of ``reader`` and the server (:class:`TooManyLogReads` when there is none).  Concurrent
    reads of one try wait for the first, so a finished log is streamed from Airflow once."""
    cached = _cached_log(ref)
    if cached is not None:
        return cached
    with log_memory().flights.hold(ref.cache_key):
        return _cached_log(ref) or _stream_records(server, ref, reader, ti)


def _stream_records(server: ServerHandle, ref: TaskLogRef, reader: Hashable, ti: TaskInstance | None) -> ParsedLog:
    memory = log_memory()
    with memory.reads.slot(reader, ref.server_id):
        ti = ti or find_task_instance(server, ref)
        finished = _finished(ti, ref.try_number)
        try:
            with server.client.iter_log_lines(
                ref.dag_id,
                ref.run_id,
                ref.task_id,
                ref.try_number,
                map_index=ref.map_index,
                read_timeout=_log_timeout(),
            ) as stream:
                records, size, truncated = read_capped(
                    record_tuples(stream), int(settings.value("log_max_lines")), int(settings.value("log_max_bytes"))
                )
        except AirflowNotFound:
            if finished:
                raise
            records, size, truncated = [], 0, False  # not started yet: no log file so far
    parsed = ParsedLog(records, ti.state, finished, truncated, size)
    if finished and memory.cache.put(ref.cache_key, parsed, size):
        shared_put(ref.cache_key, parsed)
    return parsed


def page_size() -> int:
    """Log lines per page (the ``log_page_size`` setting)."""
    return int(settings.value("log_page_size"))


def read_log_slice(
    ref: TaskLogRef,
    *,
    reader: Hashable,
    offset: int = 0,
    limit: int | None = None,
    level: str = "",
    query: str = "",
) -> LogSlice:
    """One page of the log (after the level filter), with search matches as positions in the
    filtered list, read on behalf of ``reader`` (a user id: its reads are limited).  Airflow's
    failures come back in ``failure`` / ``not_found``, too many reads in ``busy``.  ``limit``
    defaults to the ``log_page_size`` setting."""
    limit = page_size() if limit is None else limit
    server = resolve_server(ref.server_id)
    out = LogSlice(ref)
    try:
        parsed = read_records(server, ref, reader)
    except TooManyLogReads as exc:
        out.busy = str(exc)
        return out
    except AirflowNotFound:
        out.not_found = True
        return out
    except AirflowError as exc:
        out.failure = ServerFailure.from_error(exc)
        return out
    records = parsed.records
    out.state, out.finished, out.truncated = parsed.state, parsed.finished, parsed.truncated
    kept = filter_level(records, normalize_level(level))
    out.total_lines, out.total = len(records), len(kept)
    out.bounds = page_bounds(len(kept), offset, max(1, min(limit, MAX_LIMIT)))
    out.records = [LogRecord._make(r) for r in kept[out.bounds.offset : out.bounds.end]]
    if query:
        out.matches, out.match_count = search(kept, query)
    return out


@dataclass
class LogDownload:
    filename: str
    chunks: Iterator[str] | None = None
    failure: ServerFailure | None = None
    not_found: bool = False


def download(ref: TaskLogRef) -> LogDownload:
    """The log as plain text, streamed from Airflow line by line (the request is made now, so a
    missing log or a server that is down is known before the answer starts)."""
    server = resolve_server(ref.server_id)
    out = LogDownload(ref.filename)
    try:
        find_task_instance(server, ref)
        stream = server.client.iter_log_lines(
            ref.dag_id, ref.run_id, ref.task_id, ref.try_number, map_index=ref.map_index, read_timeout=_log_timeout()
        )
    except AirflowNotFound:
        out.not_found = True
        return out
    except AirflowError as exc:
        out.failure = ServerFailure.from_error(exc)
        return out

    def chunks() -> Iterator[str]:
        batch: list[str] = []
        try:
            for record in to_records(stream):
                batch.append(record.as_text() + "\n")
                if len(batch) >= 1000:
                    yield "".join(batch)
                    batch = []
            yield "".join(batch)
        except AirflowError as exc:
            yield "".join(batch) + f"\n[the log was cut off: {exc}]\n"
        finally:
            stream.close()

    out.chunks = chunks()
    return out
