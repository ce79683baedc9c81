"""Fault injection for the Airflow client, against a FAKE Airflow (``tests/fakes.py``).

The fake produces what a real Airflow cannot on demand: timeouts, 5xx, dropped connections,
malformed answers, expiring tokens, many pages.  Behaviour against a real Airflow is covered by
``tests/integration/test_airflow_client.py``.  Every test name says ``fake_airflow`` so nobody
mistakes these for proof the client works with Airflow.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import pytest

from console.airflow.client import AirflowClient, DagRun, LogLine
from console.airflow.errors import (
    AirflowAuthError,
    AirflowBadRequest,
    AirflowConflict,
    AirflowError,
    AirflowNotFound,
    AirflowUnavailable,
    AirflowUnexpectedPayload,
)
from console.airflow.tokens import TokenCache, jwt_expiry
from tests.conftest import wait_until
from tests.fakes import PASSWORD, USER, FakeAirflow, Reply, Seen, make_jwt


def client_for(fake: FakeAirflow, **kwargs: Any) -> AirflowClient:
    options: dict[str, Any] = {
        "username": USER,
        "password": PASSWORD,
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        "name": "fake",
        "attempts": 3,
        "backoff": 0.01,
        "token_cache": TokenCache(),
    }
    options.update(kwargs)
    return AirflowClient(fake.url, **options)


def dag_json(i: int) -> dict[str, Any]:
    return {
        "dag_id": f"dag_{i:04d}",
        "dag_display_name": f"dag_{i:04d}",
        "is_paused": False,
        "is_stale": False,
        "has_import_errors": False,
        "owners": ["airflow"],
        "tags": [{"name": "t", "dag_id": f"dag_{i:04d}"}],
        "next_dagrun_run_after": "2026-01-01T00:00:00Z",
    }


def run_json(run_id: str = "r1", state: str = "queued") -> dict[str, Any]:
    return {
        "dag_id": "example_quick",
        "dag_run_id": run_id,
        "state": state,
        "run_type": "manual",
        "logical_date": None,
        "run_after": "2026-01-01T00:00:00.123456Z",
        "conf": {},
    }


VERSION = Reply(200, {"version": "3.3.2", "git_version": "x"})
TRIGGER = "/api/v2/dags/example_quick/dagRuns"


# --- timeouts and unreachable servers ------------------------------------------------------


def test_fake_airflow_read_timeout_raises_unavailable_fast(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", "/api/v2/version", Reply(200, {"version": "3.3.2"}, delay=5))
    client = client_for(fake_airflow, read_timeout=0.2, attempts=2)
    with pytest.raises(AirflowUnavailable) as info:  # not the version the server sends after 5 s
        client.version()
    assert "no answer within 0.2 s" in str(info.value)
    assert "'fake'" in str(info.value)
    # the fake records a request in its handler thread, which a loaded machine may start after
    # the client has given up on it: wait for the record, then count
    wait_until(lambda: len(fake_airflow.calls("GET", "/api/v2/version")) >= 2, 30, "both tries recorded")
    assert len(fake_airflow.calls("GET", "/api/v2/version")) == 2


def test_fake_airflow_read_timeout_on_trigger_is_not_retried(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("POST", TRIGGER, Reply(200, run_json(), delay=5))
    client = client_for(fake_airflow, read_timeout=0.2)
    with pytest.raises(AirflowUnavailable, match=r"no answer within 0\.2 s"):
        client.trigger_dag_run("example_quick", run_id="r1")
    wait_until(lambda: fake_airflow.calls("POST", TRIGGER), 30, "the trigger recorded")
    assert len(fake_airflow.calls("POST", TRIGGER)) == 1


def test_fake_airflow_connection_refused_raises_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = AirflowClient(
        f"http://127.0.0.1:{port}", static_token="tok", name="gone", attempts=2, backoff=0.01, connect_timeout=1.0
    )
    with pytest.raises(AirflowUnavailable) as info:
        client.list_dags()
    assert "connection refused after 2 tries" in str(info.value)
    assert info.value.server == "gone"


def test_fake_airflow_unresolvable_host_raises_unavailable() -> None:
    client = AirflowClient("http://no-such-host.invalid:8080", static_token="tok", attempts=1)
    with pytest.raises(AirflowUnavailable) as info:
        client.version()
    assert "cannot" in info.value.reason


# --- token handling ------------------------------------------------------------------------


def test_fake_airflow_401_then_success_refreshes_token_once(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", "/api/v2/version", VERSION)
    client = client_for(fake_airflow)
    assert client.version()["version"] == "3.3.2"
    fake_airflow.revoke_tokens()  # e.g. Airflow's JWT secret changed
    assert client.version()["version"] == "3.3.2"
    assert len(fake_airflow.calls("POST", "/auth/token")) == 2
    versions = fake_airflow.calls("GET", "/api/v2/version")
    assert len(versions) == 3
    assert versions[1].headers["authorization"] != versions[2].headers["authorization"]


def test_fake_airflow_401_after_refresh_raises_auth_error(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", "/api/v2/version", lambda seen: Reply(401, {"detail": "Invalid token"}))
    client = client_for(fake_airflow)
    with pytest.raises(AirflowAuthError) as info:
        client.version()
    assert len(fake_airflow.calls("POST", "/auth/token")) == 2  # first login + one refresh
    assert len(fake_airflow.calls("GET", "/api/v2/version")) == 2
    assert "refused" in str(info.value)


def test_fake_airflow_401_on_trigger_refreshes_and_posts_again_once(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("POST", TRIGGER, Reply(200, run_json("r9")))
    client = client_for(fake_airflow)
    client.log_in()
    fake_airflow.revoke_tokens()
    run = client.trigger_dag_run("example_quick", run_id="r9")
    assert isinstance(run, DagRun) and run.run_id == "r9"
    assert len(fake_airflow.calls("POST", TRIGGER)) == 2  # the refused one was never executed


def test_fake_airflow_static_token_401_raises_auth_error_without_login(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", "/api/v2/version", VERSION)
    client = client_for(fake_airflow, username=None, password=None, static_token="not-a-valid-token")
    with pytest.raises(AirflowAuthError) as info:
        client.version()
    assert fake_airflow.calls("POST", "/auth/token") == []
    assert "API token was refused" in str(info.value)
    assert "not-a-valid-token" not in str(info.value)


def test_fake_airflow_403_raises_auth_error_without_refresh(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("POST", TRIGGER, Reply(403, {"detail": "Forbidden"}))
    client = client_for(fake_airflow)
    with pytest.raises(AirflowAuthError) as info:
        client.trigger_dag_run("example_quick")
    assert info.value.status == 403
    assert len(fake_airflow.calls("POST", "/auth/token")) == 1


def test_fake_airflow_wrong_password_raises_auth_error(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", "/api/v2/version", VERSION)
    client = client_for(fake_airflow, password="wrong-password-123")
    with pytest.raises(AirflowAuthError) as info:
        client.version()
    assert "login refused for user 'admin'" in str(info.value)
    assert "wrong-password-123" not in str(info.value) + repr(info.value)
    assert fake_airflow.calls("GET", "/api/v2/version") == []


def test_fake_airflow_token_cached_until_near_exp(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", "/api/v2/version", VERSION)
    cache = TokenCache()
    # A 1-hour token is fetched once and shared by every client of the server.
    first = client_for(fake_airflow, token_cache=cache)
    second = client_for(fake_airflow, token_cache=cache)
    for client in (first, second, first):
        client.version()
    assert len(fake_airflow.calls("POST", "/auth/token")) == 1
    assert len(cache) == 1

    # A token with less than the 60 s margin left is never reused.
    fake_airflow.token_ttl = 30
    cache.clear()
    first.version()
    first.version()
    assert len(fake_airflow.calls("POST", "/auth/token")) == 3


def test_fake_airflow_token_cache_refreshes_60s_before_exp() -> None:
    now = [1_000_000.0]
    cache = TokenCache(clock=lambda: now[0])
    token = make_jwt(now[0] + 24 * 3600)
    assert jwt_expiry(token) == now[0] + 24 * 3600
    cache.put(("http://a", "u"), token, "fp")
    now[0] += 24 * 3600 - 61
    assert cache.get(("http://a", "u"), "fp") == token
    assert cache.get(("http://a", "u"), "other-password") is None  # password changed
    cache.put(("http://a", "u"), token, "fp")
    now[0] += 2
    assert cache.get(("http://a", "u"), "fp") is None


def test_fake_airflow_concurrent_first_calls_fetch_one_token(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", "/api/v2/version", VERSION)
    cache = TokenCache()
    clients = [client_for(fake_airflow, token_cache=cache) for _ in range(8)]
    threads = [threading.Thread(target=c.version) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(fake_airflow.calls("POST", "/auth/token")) == 1
    assert len(fake_airflow.calls("GET", "/api/v2/version")) == 8


# --- retries ---------------------------------------------------------------------------------


def test_fake_airflow_503_then_success_retries_get(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route(
        "GET", "/api/v2/version", Reply(503, {"detail": "busy"}), Reply(502, body=b"bad gateway"), VERSION
    )
    client = client_for(fake_airflow)
    assert client.version()["version"] == "3.3.2"
    assert len(fake_airflow.calls("GET", "/api/v2/version")) == 3


def test_fake_airflow_429_until_attempts_exhausted_raises_unavailable(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", "/api/v2/version", Reply(429, {"detail": "slow down"}))
    client = client_for(fake_airflow, attempts=3)
    with pytest.raises(AirflowUnavailable) as info:
        client.version()
    assert len(fake_airflow.calls("GET", "/api/v2/version")) == 3
    assert "429" in str(info.value)


def test_fake_airflow_500_on_get_is_not_retried(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", "/api/v2/version", Reply(500, {"detail": "Internal Server Error"}))
    client = client_for(fake_airflow)
    with pytest.raises(AirflowUnavailable) as info:
        client.version()
    assert info.value.status == 500
    assert len(fake_airflow.calls("GET", "/api/v2/version")) == 1


def test_fake_airflow_503_on_trigger_is_not_retried(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("POST", TRIGGER, Reply(503, {"detail": "busy"}), Reply(200, run_json()))
    client = client_for(fake_airflow)
    with pytest.raises(AirflowUnavailable) as info:
        client.trigger_dag_run("example_quick", run_id="r1")
    wait_until(lambda: fake_airflow.calls("POST", TRIGGER), 30, "the trigger recorded")
    assert len(fake_airflow.calls("POST", TRIGGER)) == 1
    assert "503" in str(info.value)


def test_fake_airflow_dropped_connection_on_trigger_is_not_retried(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("POST", TRIGGER, Reply(drop=True), Reply(200, run_json()))
    client = client_for(fake_airflow)
    with pytest.raises(AirflowUnavailable):
        client.trigger_dag_run("example_quick", run_id="r1")
    wait_until(lambda: fake_airflow.calls("POST", TRIGGER), 30, "the trigger recorded")
    assert len(fake_airflow.calls("POST", TRIGGER)) == 1


def test_fake_airflow_dropped_connection_on_get_is_retried(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", "/api/v2/version", Reply(drop=True), VERSION)
    client = client_for(fake_airflow)
    assert client.version()["version"] == "3.3.2"
    assert len(fake_airflow.calls("GET", "/api/v2/version")) == 2


# --- answers that do not fit -----------------------------------------------------------------


def test_fake_airflow_malformed_payload_raises_unexpected_payload(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route(
        "GET", "/api/v2/dags", Reply(200, {"dags": [{"dag_id": 5, "is_paused": "no"}], "total_entries": 1})
    )
    client = client_for(fake_airflow)
    with pytest.raises(AirflowUnexpectedPayload) as info:
        client.list_dags()
    assert "dag_id" in str(info.value)


def test_fake_airflow_missing_collection_key_raises_unexpected_payload(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", "/api/v2/dags/~/dagRuns", Reply(200, {"runs": []}))
    with pytest.raises(AirflowUnexpectedPayload):
        client_for(fake_airflow).list_dag_runs("~")


def test_fake_airflow_html_answer_raises_unexpected_payload(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route(
        "GET",
        "/api/v2/version",
        Reply(200, body=b"<!doctype html><html></html>", headers={"Content-Type": "text/html"}),
    )
    with pytest.raises(AirflowUnexpectedPayload) as info:
        client_for(fake_airflow).version()
    assert "not JSON (text/html)" in str(info.value)
    assert "base URL" in str(info.value)


def test_fake_airflow_login_answer_without_token_raises_unexpected_payload(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", "/api/v2/version", VERSION)
    fake_airflow.route("POST", "/auth/token", Reply(201, {"token": "x"}))
    with pytest.raises(AirflowUnexpectedPayload):
        client_for(fake_airflow).version()


# --- HTTP errors made readable ---------------------------------------------------------------


def test_fake_airflow_409_on_trigger_raises_conflict_naming_run_id(fake_airflow: FakeAirflow) -> None:
    detail = {"detail": {"reason": "Unique constraint violation", "statement": "hidden", "orig_error": "hidden"}}
    fake_airflow.route("POST", TRIGGER, Reply(409, detail))
    with pytest.raises(AirflowConflict) as info:
        client_for(fake_airflow).trigger_dag_run("example_quick", run_id="sched__1")
    assert "'sched__1' already exists" in str(info.value)
    assert len(fake_airflow.calls("POST", TRIGGER)) == 1


def test_fake_airflow_400_and_422_raise_bad_request_with_airflow_detail(fake_airflow: FakeAirflow) -> None:
    params_detail = (
        "Invalid input for param count: 99 is greater than the maximum of 10\n\n"
        "Failed validating 'maximum' in schema:\n    {'type': 'integer'}"
    )
    fake_airflow.route(
        "POST",
        TRIGGER,
        Reply(400, {"detail": params_detail}),
        Reply(
            422,
            {
                "detail": [
                    {
                        "type": "missing",
                        "loc": ["body", "logical_date"],
                        "msg": "Field required",
                        "input": {"password": PASSWORD},
                    }
                ]
            },
        ),
    )
    client = client_for(fake_airflow)
    with pytest.raises(AirflowBadRequest) as first:
        client.trigger_dag_run("example_quick", conf={"count": 99})
    assert first.value.reason.endswith("Invalid input for param count: 99 is greater than the maximum of 10")
    with pytest.raises(AirflowBadRequest) as second:
        client.trigger_dag_run("example_quick")
    assert "logical_date: Field required" in str(second.value)
    assert PASSWORD not in str(second.value)


def test_fake_airflow_404_raises_not_found(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", "/api/v2/dags/nope/details", Reply(404, {"detail": "Dag with dag_id: 'nope' not found"}))
    with pytest.raises(AirflowNotFound) as info:
        client_for(fake_airflow).get_dag_details("nope")
    assert str(info.value) == "Airflow server 'fake': cannot read DAG 'nope': Dag with dag_id: 'nope' not found"


def test_fake_airflow_error_messages_never_contain_password_or_token(fake_airflow: FakeAirflow) -> None:
    client = client_for(fake_airflow)
    token = client.session.token()
    assert token
    leaky = {"detail": f"bad token {token} for password {PASSWORD}"}
    fake_airflow.route("GET", "/api/v2/dags/a/details", Reply(404, leaky))
    fake_airflow.route("POST", TRIGGER, Reply(400, leaky))
    fake_airflow.route("GET", "/api/v2/dags/b/details", Reply(409, {"detail": {"reason": f"{PASSWORD} {token}"}}))
    fake_airflow.route("GET", "/api/v2/version", Reply(422, {"detail": [{"loc": ["query", token], "msg": PASSWORD}]}))
    errors: list[AirflowError] = []
    for call in (
        lambda: client.get_dag_details("a"),
        lambda: client.trigger_dag_run("example_quick"),
        lambda: client.get_dag_details("b"),
        client.version,
    ):
        with pytest.raises(AirflowError) as info:
            call()
        errors.append(info.value)
    fake_airflow.revoke_tokens()
    fake_airflow.route("GET", "/api/v2/version", lambda seen: Reply(401, {"detail": "no"}))
    with pytest.raises(AirflowAuthError) as auth:
        client.version()
    errors.append(auth.value)
    for error in errors:
        text = f"{error} {error!r} {error.reason} {error.args}"
        assert PASSWORD not in text
        assert token not in text
        assert "Traceback" not in text
        assert error.server == "fake"


# --- pagination and streaming ----------------------------------------------------------------


def test_fake_airflow_pagination_follows_total_entries_across_3_pages(fake_airflow: FakeAirflow) -> None:
    all_dags = [dag_json(i) for i in range(250)]

    def page(seen: Seen) -> Reply:
        limit = int(seen.query["limit"][0])
        offset = int(seen.query["offset"][0])
        return Reply(200, {"dags": all_dags[offset : offset + min(limit, 100)], "total_entries": len(all_dags)})

    fake_airflow.route("GET", "/api/v2/dags", page)
    dags = client_for(fake_airflow).list_dags()
    assert [d.dag_id for d in dags] == [d["dag_id"] for d in all_dags]
    calls = fake_airflow.calls("GET", "/api/v2/dags")
    assert [(c.query["limit"], c.query["offset"]) for c in calls] == [
        (["100"], ["0"]),
        (["100"], ["100"]),
        (["100"], ["200"]),
    ]
    assert dags[0].tags == ["t"] and dags[0].next_dagrun_run_after is not None
    assert dags[0].next_dagrun_run_after.tzinfo is not None


def test_fake_airflow_dag_runs_limit_spans_pages(fake_airflow: FakeAirflow) -> None:
    runs = [run_json(f"r{i}") for i in range(130)]

    def page(seen: Seen) -> Reply:
        limit, offset = int(seen.query["limit"][0]), int(seen.query["offset"][0])
        return Reply(200, {"dag_runs": runs[offset : offset + limit], "total_entries": len(runs)})

    fake_airflow.route("GET", "/api/v2/dags/~/dagRuns", page)
    got = client_for(fake_airflow).list_dag_runs("~", limit=120)
    assert [r.run_id for r in got] == [f"r{i}" for i in range(120)]
    assert [c.query["limit"] for c in fake_airflow.calls("GET", "/api/v2/dags/~/dagRuns")] == [["100"], ["20"]]


LOG_PATH = "/api/v2/dags/d/dagRuns/r/taskInstances/t/logs/1"


def test_fake_airflow_ndjson_log_is_streamed_line_by_line(fake_airflow: FakeAirflow) -> None:
    lines = [
        json.dumps({"timestamp": "2026-01-01T00:00:00Z", "event": f"line {i}", "level": "info", "logger": "x"}).encode()
        + b"\n"
        for i in range(5000)
    ]
    lines.append(b"not json at all\n")
    fake_airflow.route("GET", LOG_PATH, Reply(lines=lines))
    stream = client_for(fake_airflow).iter_log_lines("d", "r", "t", 1)
    got = list(stream)
    assert len(got) == 5001
    assert got[0] == LogLine(got[0].timestamp, "info", "line 0", {"logger": "x"})
    assert got[0].timestamp is not None and got[0].timestamp.tzinfo is not None
    assert got[-1].event == "not json at all"
    seen = fake_airflow.calls("GET", LOG_PATH)[0]
    assert seen.headers["accept"] == "application/x-ndjson"
    assert seen.query["map_index"] == ["-1"]


def test_fake_airflow_log_stream_cut_midway_raises_unavailable(fake_airflow: FakeAirflow) -> None:
    lines = [b'{"event": "x"}\n'] * 100
    fake_airflow.route("GET", LOG_PATH, Reply(lines=lines, drop_after=50))
    stream = client_for(fake_airflow).iter_log_lines("d", "r", "t", 1)
    count = 0
    with pytest.raises(AirflowUnavailable):
        for _ in stream:
            count += 1
    assert count == 50


def test_fake_airflow_log_stream_404_raises_before_iterating(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", LOG_PATH, Reply(404, {"detail": "TaskInstance not found"}))
    with pytest.raises(AirflowNotFound):
        client_for(fake_airflow).iter_log_lines("d", "r", "t", 1)


def test_fake_airflow_json_log_page_with_plain_string_lines(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route(
        "GET",
        LOG_PATH,
        Reply(200, {"content": ["old style line", {"event": "new", "level": "warning"}], "continuation_token": "abc"}),
    )
    page = client_for(fake_airflow).get_log("d", "r", "t", 1, token="prev")
    assert [(line.event, line.level) for line in page.lines] == [("old style line", None), ("new", "warning")]
    assert page.continuation_token == "abc"
    seen = fake_airflow.calls("GET", LOG_PATH)[0]
    assert seen.query["token"] == ["prev"]
    assert seen.headers["accept"] == "application/json"


def test_fake_airflow_slow_log_needs_the_per_call_read_timeout(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", LOG_PATH, Reply(200, {"content": [{"event": "late"}]}, delay=0.6))
    client = client_for(fake_airflow, read_timeout=0.2, attempts=1)
    with pytest.raises(AirflowUnavailable):
        client.get_log("d", "r", "t", 1)
    assert client.get_log("d", "r", "t", 1, read_timeout=5).lines[0].event == "late"
    fake_airflow.route("GET", LOG_PATH, Reply(lines=[b'{"event": "late"}\n'], delay=0.6))
    with client.iter_log_lines("d", "r", "t", 1, read_timeout=5) as lines:
        assert [line.event for line in lines] == ["late"]


# --- hostile nesting -------------------------------------------------------------------------

#: Deeper than any recursion limit: the JSON decoder gives up with RecursionError.
DEEP_JSON = b"[" * 200_000 + b"]" * 200_000


def test_fake_airflow_deeply_nested_answer_raises_unexpected_payload(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", "/api/v2/version", Reply(200, body=DEEP_JSON))
    with pytest.raises(AirflowUnexpectedPayload) as info:
        client_for(fake_airflow).version()
    assert "nested too deeply" in str(info.value)


def test_fake_airflow_deeply_nested_error_body_keeps_the_status_error(fake_airflow: FakeAirflow) -> None:
    fake_airflow.route("GET", "/api/v2/dags/d", Reply(404, body=DEEP_JSON))
    with pytest.raises(AirflowNotFound) as info:
        client_for(fake_airflow).get_dag("d")
    assert info.value.reason == "cannot read DAG 'd': not found"


def test_fake_airflow_deeply_nested_log_line_is_kept_as_text(fake_airflow: FakeAirflow) -> None:
    deep = b"[" * 5_000 + b"]" * 5_000
    fake_airflow.route("GET", LOG_PATH, Reply(lines=[deep + b"\n", b'{"event": "after"}\n']))
    with client_for(fake_airflow).iter_log_lines("d", "r", "t", 1) as lines:
        assert [line.event for line in lines] == [deep.decode(), "after"]
