"""The read cache in one process: lifetimes from one validated setting, one upstream call for
concurrent misses of a key, failures kept only briefly, and writes that drop exactly the keys
they change."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from console import create_app
from console.airflow.errors import AirflowNotFound, AirflowUnavailable
from console.config import ConfigError, apply_environment
from console.services.read_cache import ReadCache, cached, forget_server, invalidate, lifetime, read_cache
from tests.conftest import base_config, wait_until

THREADS = 6


class BlockingLoader:
    """Counts its calls and blocks each one until released."""

    def __init__(self, value: Any = "answer") -> None:
        self.calls = 0
        self.value = value
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            self.calls += 1
        assert self.release.wait(30), "the test never released the loader"
        return self.value


def run_concurrently(app: Flask, count: int, call: Callable[[], Any]) -> tuple[list[threading.Thread], list[Any]]:
    """Start ``count`` threads that pass a barrier together, then each ``call()`` in an app context."""
    barrier = threading.Barrier(count)
    results: list[Any] = []

    def worker() -> None:
        with app.app_context():
            barrier.wait(10)
            results.append(call())

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, results


@pytest.fixture
def cache_app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory(CACHE_TYPE="SimpleCache")


def test_concurrent_misses_of_one_key_make_one_upstream_call_in_a_process(cache_app: Flask) -> None:
    loader = BlockingLoader()
    threads, results = run_concurrently(cache_app, THREADS, lambda: cached("dag_list", 1, ("window", 1), loader))
    store: ReadCache = cache_app.extensions["read_cache"]
    wait_until(lambda: store.stats["joined"] == THREADS - 1, 30, "the other requests to wait for the first")
    loader.release.set()
    for thread in threads:
        thread.join(30)
    assert results == ["answer"] * THREADS
    assert loader.calls == 1
    with cache_app.app_context():
        assert cached("dag_list", 1, ("window", 1), loader) == "answer"  # now a hit
    assert loader.calls == 1


def test_every_waiter_gets_the_failure_of_the_one_call(cache_app: Flask) -> None:
    calls = []

    def down() -> Any:
        calls.append(1)
        raise AirflowUnavailable("prod", "connection refused")

    with cache_app.app_context():
        for _ in range(3):
            with pytest.raises(AirflowUnavailable, match="connection refused"):
                cached("dag_list", 1, "q", down)
    assert len(calls) == 1


@pytest.fixture
def timeouts(cache_app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """``(key, timeout)`` of every value the read cache stores."""
    store: ReadCache = cache_app.extensions["read_cache"]
    seen: list[tuple[str, int]] = []
    real_set = store.backend.set

    def recording_set(key: str, value: Any, timeout: int | None = None) -> Any:
        seen.append((key, timeout or 0))
        return real_set(key, value, timeout)

    monkeypatch.setattr(store.backend, "set", recording_set)
    return seen


def test_an_answer_that_can_still_change_is_kept_only_a_moment(cache_app: Flask, timeouts) -> None:
    with cache_app.app_context():
        cached("runs", 1, "running", lambda: ["running"], dag_id="d", settled=lambda runs: "running" not in runs)
        cached("runs", 1, "finished", lambda: ["success"], dag_id="d", settled=lambda runs: "running" not in runs)
    assert [timeout for key, timeout in timeouts if key.startswith("runs:")] == [1, 10]


def test_a_failure_is_kept_for_the_failure_lifetime_not_the_kind_lifetime(cache_app: Flask, timeouts) -> None:

    def missing() -> Any:
        raise AirflowNotFound("prod", "DAG 'x' not found")

    with cache_app.app_context():
        cached("dag_detail", 1, "ok", lambda: "details", dag_id="x")
        with pytest.raises(AirflowNotFound):  # the exact kind of error comes back from the cache too
            cached("dag_detail", 1, "missing", missing, dag_id="x")
        with pytest.raises(AirflowNotFound):
            cached("dag_detail", 1, "missing", missing, dag_id="x")
    entries = [timeout for key, timeout in timeouts if key.startswith("dag_detail:")]
    assert entries == [30, 3]  # CACHE_SECONDS["dag_detail"], then CACHE_FAILURE_SECONDS


def test_a_write_drops_the_dag_and_its_servers_lists_and_nothing_else(cache_app: Flask) -> None:
    with cache_app.app_context():
        store = read_cache()
        keys = {
            "list 1": store.key("dag_list", 1, "window"),
            "detail 1/a": store.key("dag_detail", 1, "details", "a"),
            "detail 1/b": store.key("dag_detail", 1, "details", "b"),
            "list 2": store.key("dag_list", 2, "window"),
            "detail 2/a": store.key("dag_detail", 2, "details", "a"),
        }
        invalidate(1, "a")
        after = {
            "list 1": store.key("dag_list", 1, "window"),
            "detail 1/a": store.key("dag_detail", 1, "details", "a"),
            "detail 1/b": store.key("dag_detail", 1, "details", "b"),
            "list 2": store.key("dag_list", 2, "window"),
            "detail 2/a": store.key("dag_detail", 2, "details", "a"),
        }
    changed = sorted(name for name in keys if keys[name] != after[name])
    assert changed == ["detail 1/a", "list 1"]
    with cache_app.app_context():
        forget_server(2)  # the server itself was edited: all of its entries go
        assert read_cache().key("dag_detail", 2, "details", "a") != after["detail 2/a"]
        assert read_cache().key("dag_list", 2, "window") != after["list 2"]
        assert read_cache().key("dag_list", 1, "window") == after["list 1"]


def test_lifetimes_come_from_one_setting_merged_over_the_defaults() -> None:
    app = create_app(base_config("sqlite://", CACHE_SECONDS={"log": 5, "dag_list": 0}))
    assert lifetime("log", app) == 5
    assert lifetime("dag_list", app) == 0
    assert lifetime("dag_status", app) == 30


def test_a_zero_lifetime_caches_nothing(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(CACHE_TYPE="SimpleCache", CACHE_SECONDS={"runs": 0})
    answers = iter(["first", "second"])
    with app.app_context():
        assert cached("runs", 1, "q", lambda: next(answers), dag_id="d") == "first"
        assert cached("runs", 1, "q", lambda: next(answers), dag_id="d") == "second"


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"CACHE_SECONDS": {"dag_list": -1}}, "CACHE_SECONDS['dag_list']"),
        ({"CACHE_SECONDS": {"log": "long"}}, "CACHE_SECONDS['log']"),
        ({"CACHE_SECONDS": {"dag_lists": 10}}, "CACHE_SECONDS['dag_lists']"),
        ({"CACHE_SECONDS": {"runs": True}}, "CACHE_SECONDS['runs']"),
        ({"CACHE_FAILURE_SECONDS": 0}, "CACHE_FAILURE_SECONDS must be a number of seconds, 1 or more"),
        ({"CACHE_WAIT_SECONDS": "soon"}, "CACHE_WAIT_SECONDS"),
        ({"DAGS_LIST_CACHE_SECONDS": 10}, "DAGS_LIST_CACHE_SECONDS was replaced by CACHE_SECONDS"),
        ({"CACHE_TYPE": "SimpleCache", "REDIS_URL": "http://cache:6379"}, "CONSOLE_REDIS_URL"),
    ],
)
def test_bad_cache_settings_fail_fast_naming_the_key(override: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        create_app(base_config("sqlite://", **override))


def test_redis_url_points_the_cache_at_redis_and_the_old_name_still_works() -> None:
    app = Flask(__name__)
    app.config.update(REDIS_URL=None)
    apply_environment(app, {"CONSOLE_REDIS_URL": "redis://127.0.0.1:6379/3"})
    assert app.config["REDIS_URL"] == "redis://127.0.0.1:6379/3"
    shared = create_app(base_config("sqlite://", CACHE_TYPE="SimpleCache", REDIS_URL="redis://127.0.0.1:6379/3"))
    assert (shared.config["CACHE_TYPE"], shared.config["CACHE_REDIS_URL"]) == ("RedisCache", "redis://127.0.0.1:6379/3")
    assert shared.extensions["read_cache"].redis is not None
    old = create_app(base_config("sqlite://", CACHE_TYPE="SimpleCache", CACHE_REDIS_URL="redis://127.0.0.1:6379/4"))
    assert (old.config["CACHE_TYPE"], old.config["CACHE_REDIS_URL"]) == ("RedisCache", "redis://127.0.0.1:6379/4")
    local = create_app(base_config("sqlite://", CACHE_TYPE="SimpleCache"))
    assert local.extensions["read_cache"].redis is None


def test_a_redis_that_is_down_makes_reads_uncached_not_errors(app_factory: Callable[..., Flask], caplog) -> None:
    app = app_factory(CACHE_TYPE="SimpleCache", REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1
    answers = iter(["first", "second"])
    with app.app_context():
        assert cached("dag_list", 1, "q", lambda: next(answers)) == "first"
        invalidate(1, "d")
        assert cached("dag_list", 1, "q", lambda: next(answers)) == "second"
    assert read_cache_of(app).stats["backend_errors"] > 0
    assert "cannot reach Redis" in caplog.text


def read_cache_of(app: Flask) -> ReadCache:
    return app.extensions["read_cache"]  # type: ignore[no-any-return]
