"""The log viewer's memory bounds: the parsed-log cache's byte budget, the cap on one log (with
its "truncated" marker), and the limit on concurrent uncached reads per user and per server.

The ``test_fake_airflow_*`` tests serve a 320,000-line ndjson log from a fake Airflow: a real
Airflow cannot be made to hold such a log on demand, nor to report when the console hung up."""

from __future__ import annotations

import contextlib
import json
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.airflow.client import LogLine
from console.extensions import db
from console.services import logs
from console.services.log_cache import LogCache, ReadLimiter, TooManyLogReads, log_memory, read_capped, record_size
from console.services.server_clients import ServerHandle
from tests.conftest import wait_until
from tests.fakes import FakeAirflow, Reply

T = datetime(2026, 11, 25, 17, 56, 7, 198600, tzinfo=UTC)
HANG_GUARD = 30.0  # seconds: only so that a broken test fails instead of hanging
LINES_URL = "/admin/dags/{server_id}/d/runs/r/tasks/t/logs/1/lines"


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    """Small limits, no waiting for a read slot, and the production cache type."""
    return app_factory(
        CACHE_TYPE="SimpleCache",
        LOG_MAX_LINES=5000,
        LOG_READS_PER_USER=2,
        LOG_READS_PER_SERVER=3,
        LOG_READ_WAIT_SECONDS=0.0,
    )


def record(n: int, text: str = "the quick brown fox jumps over the lazy dog") -> logs.RecordTuple:
    return (n, "2026-11-25T17:56:07.198+00:00", "info", f"line {n:06d}: {text}", False)


# --- the byte budget ---------------------------------------------------------------------------


def test_cache_evicts_the_least_recently_used_logs_past_its_byte_budget() -> None:
    cache = LogCache(max_bytes=1000, ttl=60, clock=lambda: 0.0)
    assert cache.put("a", "A", 400) and cache.put("b", "B", 400)
    assert cache.get("a") == "A"  # now "b" is the least recently used
    assert cache.put("c", "C", 400)
    assert ("a" in cache, "b" in cache, "c" in cache) == (True, False, True)
    assert cache.bytes == 800


def test_a_log_bigger_than_the_whole_budget_is_not_cached_and_evicts_nothing() -> None:
    cache = LogCache(max_bytes=1000, ttl=60, clock=lambda: 0.0)
    cache.put("a", "A", 600)
    assert cache.put("huge", "H", 1001) is False
    assert "huge" not in cache and cache.get("a") == "A" and cache.bytes == 600


def test_cached_logs_expire_after_their_ttl() -> None:
    now = [0.0]
    cache = LogCache(max_bytes=1000, ttl=120, clock=lambda: now[0])
    cache.put("a", "A", 100)
    now[0] = 119.0
    assert cache.get("a") == "A"
    now[0] = 120.0
    assert cache.get("a") is None and cache.bytes == 0


def test_the_size_estimate_tracks_what_parsed_records_really_cost() -> None:
    # Lines made as they are read (like a stream's): the records own their texts.
    lines = (LogLine(T, "info", f"line {i:05d} of 20000: the quick brown fox jumps", {}) for i in range(20_000))
    tracemalloc.start()
    try:
        records = list(logs.record_tuples(lines))
        used, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    estimate = sum(record_size(r[1], r[3]) for r in records)
    assert 0.8 * used <= estimate <= 1.25 * used


# --- the cap on one log ------------------------------------------------------------------------


def counting(records: Iterator[logs.RecordTuple], pulled: list[int]) -> Iterator[logs.RecordTuple]:
    for item in records:
        pulled[0] += 1
        yield item


def test_reading_stops_at_the_line_cap_and_says_the_log_was_truncated() -> None:
    pulled = [0]
    kept, size, truncated = read_capped(counting((record(n) for n in range(1, 1001)), pulled), 10, 10**9)
    assert [r[0] for r in kept] == list(range(1, 11)) and truncated is True
    assert pulled[0] == 11  # one record past the cap shows there is more; nothing after it is read
    assert size == sum(record_size(r[1], r[3]) for r in kept)


def test_reading_stops_at_the_byte_cap() -> None:
    one = record_size(record(1)[1], record(1)[3])
    kept, size, truncated = read_capped((record(n) for n in range(1, 1001)), 1000, 5 * one + one // 2)
    assert (len(kept), size, truncated) == (5, 5 * one, True)


def test_a_log_exactly_at_the_cap_is_not_truncated() -> None:
    kept, _size, truncated = read_capped((record(n) for n in range(1, 11)), 10, 10**9)
    assert len(kept) == 10 and truncated is False


def test_the_truncated_marker_is_in_the_viewer_json_and_shown_as_text() -> None:
    piece = logs.LogSlice(logs.TaskLogRef(1, "d", "r", "t", 1), total=10, total_lines=10, truncated=True)
    assert piece.to_json()["truncated"] is True
    viewer = (logs_static() / "logviewer.js").read_text()
    assert "download for the rest" in viewer and "data.truncated" in viewer


def logs_static() -> Any:
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "console" / "static" / "js"


# --- concurrent uncached reads -----------------------------------------------------------------


def test_read_limiter_counts_slots_per_user_and_per_server() -> None:
    limiter = ReadLimiter(per_user=2, per_server=3)
    with contextlib.ExitStack() as held:
        held.enter_context(limiter.slot("ann", "s1"))
        held.enter_context(limiter.slot("ann", "s1"))
        with pytest.raises(TooManyLogReads, match="for you"):
            held.enter_context(limiter.slot("ann", "s2"))
        held.enter_context(limiter.slot("bob", "s1"))
        with pytest.raises(TooManyLogReads, match="from this server"):
            held.enter_context(limiter.slot("cat", "s1"))
        held.enter_context(limiter.slot("cat", "s2"))  # cat's refused try gave back its user slot
    with limiter.slot("ann", "s1"), limiter.slot("ann", "s1"):
        pass  # every slot was given back


class BlockingClient:
    """A client whose log streams wait for ``gate`` after telling ``entered`` they started."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.gate = threading.Event()
        self.streams = 0

    def list_task_instances(self, dag_id: str, run_id: str) -> list[Any]:
        return [SimpleNamespace(task_id="t", map_index=-1, try_number=1, state="success")]

    def iter_log_lines(self, *args: Any, **kwargs: Any) -> Any:
        self.streams += 1

        def lines() -> Iterator[LogLine]:
            self.entered.release()
            assert self.gate.wait(HANG_GUARD)
            yield LogLine(T, "info", "done", {})

        return contextlib.closing(lines())


def test_concurrent_uncached_reads_are_limited_per_user_and_per_server(app, monkeypatch) -> None:
    client = BlockingClient()
    monkeypatch.setattr(logs, "resolve_server", lambda sid: ServerHandle(sid, "fake", client))  # type: ignore[arg-type]
    results: dict[str, logs.LogSlice] = {}

    def read(name: str, reader: int, run: str) -> logs.LogSlice:
        with app.app_context():
            results[name] = logs.read_log_slice(logs.TaskLogRef(1, "d", run, "t", 1), reader=reader)
            return results[name]

    threads = [
        threading.Thread(target=read, args=(name, reader, name))
        for name, reader in (("ann-1", 1), ("ann-2", 1), ("bob-1", 2))
    ]
    for thread in threads:
        thread.start()
        assert client.entered.acquire(timeout=HANG_GUARD)  # that read now holds its slots
    try:
        mine = read("ann-3", 1, "ann-3")
        server = read("cat-1", 3, "cat-1")
    finally:
        client.gate.set()
        for thread in threads:
            thread.join(HANG_GUARD)
    assert mine.busy and "for you" in mine.busy and mine.to_json()["busy"] is True
    assert server.busy and "from this server" in server.busy
    assert [results[n].records[0].text for n in ("ann-1", "ann-2", "bob-1")] == ["done"] * 3
    assert client.streams == 3  # the refused reads never reached Airflow
    assert read("ann-4", 1, "ann-4").busy is None  # every slot was given back


def test_concurrent_reads_of_one_finished_log_stream_it_from_airflow_once(app, monkeypatch) -> None:
    client = BlockingClient()
    monkeypatch.setattr(logs, "resolve_server", lambda sid: ServerHandle(sid, "fake", client))  # type: ignore[arg-type]
    ref = logs.TaskLogRef(1, "d", "same-run", "t", 1)
    texts: list[str] = []

    def read(reader: int) -> None:
        with app.app_context():
            texts.append(logs.read_log_slice(ref, reader=reader).records[0].text)

    threads = [threading.Thread(target=read, args=(reader,)) for reader in (1, 2, 3, 4)]
    for thread in threads:
        thread.start()
    assert client.entered.acquire(timeout=HANG_GUARD)  # the first read streams
    with app.app_context():
        flights = log_memory().flights
    wait_until(lambda: flights.users(ref.cache_key) == 4, HANG_GUARD, "the other reads to wait for the first")
    client.gate.set()
    for thread in threads:
        thread.join(HANG_GUARD)
    assert texts == ["done"] * 4
    assert client.streams == 1


def user_id(app: Flask, email: str) -> int:
    from console.models import User

    with app.app_context():
        return db.session.scalars(sa.select(User.id).where(User.email == email)).one()


def test_a_read_over_the_limit_answers_429_with_a_message_not_a_500(app, login_as) -> None:
    http = login_as("viewer")
    server_id = register_fake(app, "http://127.0.0.1:9")  # never called: the limit refuses first
    uid = user_id(app, "viewer@example.com")
    with app.app_context(), log_memory().reads.slot(uid, server_id), log_memory().reads.slot(uid, server_id):
        response = http.get(LINES_URL.format(server_id=server_id))
    assert response.status_code == 429
    body = response.get_json()
    assert body["busy"] is True and body["message"].startswith("Too many logs are being read for you")


# --- a fake Airflow with a huge log --------------------------------------------------------------

HUGE = 320_000
STAMP = "2026-11-25T17:56:07.198600Z"


LOG_PATH = "/api/v2/dags/d/dagRuns/r/taskInstances/t/logs/1"


@pytest.fixture
def huge_log(start_fake: Callable[[FakeAirflow], FakeAirflow]) -> FakeAirflow:
    """A fake Airflow with one task instance whose log has ``HUGE`` ndjson lines."""
    fake = start_fake(FakeAirflow(tokens=False))
    ti = {"dag_id": "d", "dag_run_id": "r", "task_id": "t", "map_index": -1, "try_number": 1, "state": "success"}
    instances = Reply(200, {"task_instances": [ti], "total_entries": 1})
    fake.route("GET", "/api/v2/dags/d/dagRuns/r/taskInstances", instances)
    fake.route("GET", LOG_PATH, lambda seen: Reply(lines=huge_log_lines()))
    return fake


def huge_log_lines() -> Iterator[bytes]:
    """The log in chunks of 1000 lines."""
    for start in range(0, HUGE, 1000):
        yield "".join(
            json.dumps({"timestamp": STAMP, "level": "info", "event": f"line {n}"}) + "\n"
            for n in range(start + 1, start + 1001)
        ).encode()


def register_fake(app: Flask, url: str) -> int:
    from console.services import servers

    with app.app_context():
        server = servers.register_server(
            name="fake", base_url=url, username="admin", secret="not-a-real-secret", auth_kind="token"
        )
        db.session.commit()
        return server.id


def test_fake_airflow_huge_log_is_read_only_up_to_the_cap_and_then_served_from_the_cache(
    app, login_as, huge_log
) -> None:
    http = login_as("viewer")
    server_id = register_fake(app, huge_log.url)
    url = LINES_URL.format(server_id=server_id)

    first = http.get(url + "?offset=0&limit=500").get_json()
    (stream,) = huge_log.calls("GET", LOG_PATH)
    assert stream.done.wait(HANG_GUARD)
    assert stream.outcome == "hung up"  # the console closed the stream at the cap
    assert (first["truncated"], first["total_lines"], first["pages"]) == (True, 5000, 10)
    assert first["lines"][0]["text"] == "line 1"

    last = http.get(url + "?offset=4500&limit=500").get_json()
    assert last["lines"][-1]["text"] == "line 5000" and last["truncated"] is True
    assert len(huge_log.calls("GET", LOG_PATH)) == 1  # the second page came from the cache
    with app.app_context():
        cache = log_memory().cache
        assert len(cache) == 1 and cache.bytes <= app.config["LOG_MAX_BYTES"]


def test_clearing_the_log_cache_forgets_every_log_and_its_bytes() -> None:
    from console.services.log_cache import LogCache

    memory = LogCache(max_bytes=1000, ttl=60)
    memory.put("a", "x", 10)
    memory.put("b", "y", 20)
    memory.clear()
    assert (len(memory), memory.bytes, memory.get("a")) == (0, 0, None)
