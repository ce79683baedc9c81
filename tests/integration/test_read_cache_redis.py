"""The read cache shared through the real Redis at 127.0.0.1:6379: two app instances (as two
worker processes would be) make one upstream call for concurrent misses of a key, see each
other's writes drop the same keys, and share warmed logs.  Each test uses its own key prefix and
deletes its keys afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask

from console.airflow.errors import AirflowUnavailable
from console.services.log_cache import ParsedLog, shared_get, shared_put
from console.services.read_cache import ReadCache, cached, invalidate, read_cache
from tests.conftest import wait_until
from tests.unit.test_read_cache import BlockingLoader, run_concurrently

pytestmark = [pytest.mark.integration, pytest.mark.redis]

REDIS_URL = "redis://127.0.0.1:6379/0"
THREADS = 6


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    server = redis.Redis.from_url(REDIS_URL)
    assert server.ping(), "Redis must answer at 127.0.0.1:6379"
    name = f"console-test-{uuid.uuid4().hex[:10]}:"
    yield name
    keys = list(server.scan_iter(f"{name}*"))
    if keys:
        server.delete(*keys)
    server.close()


@pytest.fixture
def two_apps(app_factory: Callable[..., Flask], prefix: str) -> tuple[Flask, Flask]:
    """Two app instances sharing Redis, as two web workers would."""
    config = {"CACHE_TYPE": "SimpleCache", "REDIS_URL": REDIS_URL, "CACHE_KEY_PREFIX": prefix}
    return app_factory(**config), app_factory(**config)


def stats(app: Flask) -> ReadCache:
    return app.extensions["read_cache"]  # type: ignore[no-any-return]


def test_two_app_instances_sharing_redis_make_one_upstream_call_for_concurrent_misses(two_apps) -> None:
    first, second = two_apps
    loader = BlockingLoader({"dags": 1000})
    threads_a, results_a = run_concurrently(first, THREADS // 2, lambda: cached("dag_list", 7, "window", loader))
    wait_until(lambda: loader.calls == 1, 30, "the first instance to call Airflow")
    threads_b, results_b = run_concurrently(second, THREADS // 2, lambda: cached("dag_list", 7, "window", loader))

    def everyone_waits() -> bool:
        a, b = stats(first).stats, stats(second).stats
        return a["joined"] + b["joined"] + b["waited"] == THREADS - 1

    wait_until(everyone_waits, 30, "every other request, in both instances, to wait for the one call")
    loader.release.set()
    for thread in threads_a + threads_b:
        thread.join(30)
    assert results_a + results_b == [{"dags": 1000}] * THREADS
    assert loader.calls == 1
    assert stats(second).stats["waited"] == 1  # the second instance polled Redis, then read the value
    assert stats(first).stats["gave_up"] + stats(second).stats["gave_up"] == 0


def test_a_failure_is_shared_and_a_write_in_one_instance_drops_the_key_in_the_other(two_apps) -> None:
    first, second = two_apps
    calls: list[str] = []

    def down() -> Any:
        calls.append("down")
        raise AirflowUnavailable("prod", "connection refused")

    for app in (first, second):
        with app.app_context(), pytest.raises(AirflowUnavailable):
            cached("dag_detail", 3, "details", down, dag_id="etl")
    assert calls == ["down"]
    with first.app_context():
        key_before = read_cache().key("dag_detail", 3, "details", "etl")
        other_before = read_cache().key("dag_list", 4, "window")
        invalidate(3, "etl")
    with second.app_context():
        assert read_cache().key("dag_detail", 3, "details", "etl") != key_before
        assert read_cache().key("dag_list", 4, "window") == other_before
        assert cached("dag_detail", 3, "details", lambda: "back", dag_id="etl") == "back"


def test_a_log_warmed_in_one_process_opens_from_redis_in_another(two_apps) -> None:
    first, second = two_apps
    parsed = ParsedLog([(1, "2026-01-01T00:00:00.000+00:00", "error", "boom", False)], "failed", True, size=300)
    with first.app_context():
        shared_put("dags:log:1:example_fails:r:boom:-1:1", parsed)
    with second.app_context():
        assert shared_get("dags:log:1:example_fails:r:boom:-1:1") == parsed
        assert "dags:log:1:example_fails:r:boom:-1:1" in second.extensions["logs"].cache
