"""The log viewer's JSON pages and download against a real 50,000-line log (example_large_log)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.conftest import Auth, sandbox_api, wait_for_run

pytestmark = pytest.mark.integration

LINES = 50_000
RUN_TIMEOUT = 120.0


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    """The production cache type (parsed logs have their own cache: see ``log_cache``)."""
    return app_factory(CACHE_TYPE="SimpleCache", CACHE_DEFAULT_TIMEOUT=300)


@pytest.fixture(scope="module")
def large_log_run(airflow_sandbox: Any) -> str:
    """One finished run of example_large_log (triggered once for this module)."""
    api = sandbox_api(airflow_sandbox, "sandbox-api")
    if api.get_dag("example_large_log").is_paused:
        api.set_paused("example_large_log", False)
    run_id = api.trigger_dag_run("example_large_log", note="console integration: large log").run_id
    assert wait_for_run(api, "example_large_log", run_id, RUN_TIMEOUT).state == "success"
    return run_id


def log_url(server_id: int, run_id: str) -> str:
    return f"/admin/dags/{server_id}/example_large_log/runs/{run_id}/tasks/spam/logs/1"


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def test_pages_of_the_large_log(login_as, sandbox_server, large_log_run, capsys) -> None:
    client = login_as("viewer")
    url = log_url(sandbox_server, large_log_run)
    assert client.get(url).status_code == 200

    first, first_s = timed(lambda: client.get(url + "/lines?offset=0&limit=500").get_json())
    assert first["total"] >= LINES and first["pages"] == -(-first["total"] // 500)
    assert len(first["lines"]) == 500 and first["lines"][0]["n"] == 1 and first["finished"] is True
    body = [line for line in first["lines"] if line["text"].startswith("line ")]
    assert body[0]["text"] == f"line 00001 of {LINES}: the quick brown fox jumps over the lazy dog"
    assert body[0]["level"] == "info" and body[0]["time"]

    middle_offset = (first["pages"] // 2) * 500
    middle, middle_s = timed(lambda: client.get(f"{url}/lines?offset={middle_offset}&limit=500").get_json())
    assert middle["offset"] == middle_offset and len(middle["lines"]) == 500
    assert [line["n"] for line in middle["lines"]] == list(range(middle_offset + 1, middle_offset + 501))

    last = client.get(f"{url}/lines?offset={(first['pages'] - 1) * 500}").get_json()
    assert last["page"] == last["pages"] and 0 < len(last["lines"]) <= 500
    assert last["lines"][-1]["n"] == first["total"]
    assert any(f"line {LINES:05d} of {LINES}" in line["text"] for line in last["lines"])

    found, search_s = timed(lambda: client.get(f"{url}/lines?q=line 25000 of&offset=0").get_json())
    assert found["match_count"] == 1
    position = found["matches"][0]
    page = client.get(f"{url}/lines?q=line 25000 of&offset={position}").get_json()
    hit = [line for line in page["lines"] if "line 25000 of" in line["text"]]
    assert len(hit) == 1 and hit[0]["n"] == position + 1

    errors = client.get(f"{url}/lines?level=error").get_json()
    assert errors["total_lines"] == first["total"] and errors["total"] < 100

    with capsys.disabled():
        print(
            f"\n[log paging] first page {first_s:.2f} s (stream + parse + cache), middle page {middle_s:.3f} s, "
            f"search {search_s:.3f} s"
        )


def test_download_streams_the_whole_log(login_as, sandbox_server, large_log_run, capsys) -> None:
    client = login_as("viewer")
    started = time.perf_counter()
    response = client.get(log_url(sandbox_server, large_log_run) + "/download", buffered=False)
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/plain"
    assert 'filename="example_large_log__' in response.headers["Content-Disposition"]
    count = 0
    last_line = f"line {LINES:05d} of {LINES}"
    carry, seen_last = "", False
    for chunk in response.response:
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        count += text.count("\n")
        seen_last = seen_last or last_line in carry + text
        carry = (carry + text)[-len(last_line) :]
    response.close()
    elapsed = time.perf_counter() - started
    assert count >= LINES
    assert seen_last, f"no {last_line!r} in the download"
    with capsys.disabled():
        print(f"\n[log download] {count} lines in {elapsed:.2f} s")


def test_a_log_over_the_cap_shows_the_truncated_marker_and_the_download_has_it_all(
    app_factory, sandbox_server, large_log_run
) -> None:
    capped = app_factory(LOG_MAX_LINES=1000)
    client = Auth(capped, capped.test_client())("viewer")
    url = log_url(sandbox_server, large_log_run)
    page = client.get(url).get_data(as_text=True)
    assert "data-log-truncated" in page and "data-log-download" in page

    first = client.get(url + "/lines?offset=0&limit=500").get_json()
    assert (first["truncated"], first["total_lines"], first["pages"]) == (True, 1000, 2)
    last = client.get(url + "/lines?offset=500&limit=500").get_json()
    assert last["lines"][-1]["n"] == 1000 and last["truncated"] is True

    response = client.get(url + "/download", buffered=False)
    assert response.status_code == 200 and response.is_streamed
    count = sum((c.decode() if isinstance(c, bytes) else c).count("\n") for c in response.response)
    response.close()
    assert count >= LINES
