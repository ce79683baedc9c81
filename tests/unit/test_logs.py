"""Log records for the viewer: ANSI stripping, escaping, levels, search and paging math."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from console.airflow.client import LogLine, parse_log_line
from console.services.logs import (
    LogRecord,
    LogSlice,
    TaskLogRef,
    filter_level,
    format_error_detail,
    page_bounds,
    search,
    strip_ansi,
    to_records,
)

STATIC = Path(__file__).resolve().parents[2] / "console" / "static" / "js"
T = datetime(2026, 11, 25, 17, 56, 7, 198600, tzinfo=UTC)


def line(event: str, level: str | None = "info", **extra: object) -> LogLine:
    return LogLine(timestamp=T, level=level, event=event, extra=dict(extra))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[31mred\x1b[0m text", "red text"),
        ("\x1b[1;32;40mbold green\x1b[m", "bold green"),
        ("\x1b[2K\x1b[1Gprogress 50%", "progress 50%"),
        ("\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x1b]0;window title\x07after", "after"),
        ("tab\tand\nnewline kept", "tab\tand\nnewline kept"),
        ("carriage\r return and bell\x07", "carriage return and bell"),
        ("plain ünïcode ✓", "plain ünïcode ✓"),
    ],
)
def test_strip_ansi(raw: str, clean: str) -> None:
    assert strip_ansi(raw) == clean


def test_records_are_numbered_stripped_and_levelled() -> None:
    records = list(
        to_records(
            [
                line("::group::Pre Execute"),
                line("\x1b[33mhello\x1b[0m", level="WARN"),
                line("::endgroup::"),
                LogLine(timestamp=None, level=None, event="plain print", extra={}),
                line("boom", level="error"),
            ]
        )
    )
    assert [r.n for r in records] == [1, 2, 3, 4]
    assert records[0] == LogRecord(1, "2026-11-25T17:56:07.198+00:00", "info", "Pre Execute", True)
    assert records[1].text == "hello" and records[1].level == "warning"
    assert records[2] == LogRecord(3, "", "", "plain print", False)
    assert records[3].level == "error"


def test_script_in_a_log_line_stays_text_that_the_viewer_never_parses_as_html() -> None:
    evil = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    record = next(to_records([line(evil)]))
    assert record.text == evil  # the text is data: the browser inserts it with textContent
    piece = LogSlice(TaskLogRef(1, "d", "r", "t", 1), records=[record], total=1, total_lines=1)
    body = json.dumps(piece.to_json())
    assert json.loads(body)["lines"][0]["text"] == evil
    viewer = (STATIC / "logviewer.js").read_text()
    for sink in (".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in viewer, sink
    assert "textContent" in viewer and "createTextNode" in viewer


def test_error_detail_becomes_a_traceback() -> None:
    detail = [
        {
            "exc_type": "RuntimeError",
            "exc_value": "example_fails: this task fails on purpose",
            "frames": [{"filename": "/dags/example_fails.py", "lineno": 23, "name": "boom"}],
        }
    ]
    record = next(to_records([line("Task failed with exception", level="error", error_detail=detail)]))
    assert record.text.splitlines() == [
        "Task failed with exception",
        "Traceback (most recent call last):",
        '  File "/dags/example_fails.py", line 23, in boom',
        "RuntimeError: example_fails: this task fails on purpose",
    ]
    assert format_error_detail("not a list") == ""


def test_airflow_structured_lines_parse_into_records() -> None:
    raw = {
        "timestamp": "2026-11-25T17:56:07.198600Z",
        "level": "info",
        "event": "param count = 7 (int)",
        "logger": "task.stdout",
    }
    record = next(to_records([parse_log_line(raw)]))
    assert record.text == "param count = 7 (int)" and record.time.startswith("2026-11-25T17:56:07.198")


def test_level_filter_keeps_that_level_and_above_and_unlevelled_lines() -> None:
    records = list(
        to_records(
            [
                line("d", "debug"),
                line("i"),
                line("w", "warning"),
                line("e", "error"),
                line("c", "critical"),
                LogLine(None, None, "print", {}),
            ]
        )
    )
    assert [r[3] for r in filter_level(records, "warning")] == ["w", "e", "c", "print"]
    assert [r[3] for r in filter_level(records, "error")] == ["e", "c", "print"]
    assert filter_level(records, "") == records and filter_level(records, "nonsense") == records


def test_search_is_case_insensitive_and_capped() -> None:
    records = list(to_records([line(f"Line {i} fox") for i in range(10)]))
    assert search(records, "LINE 3") == ([3], 1)
    assert search(records, "fox", limit=4) == ([0, 1, 2, 3], 10)
    assert search(records, "") == ([], 0)
    assert search(records, "wolf") == ([], 0)


@pytest.mark.parametrize(
    ("total", "offset", "limit", "expected"),
    [
        (0, 0, 500, (0, 0, 1, 1)),
        (1, 0, 500, (0, 1, 1, 1)),
        (500, 0, 500, (0, 500, 1, 1)),
        (501, 500, 500, (500, 501, 2, 2)),
        (50_012, 0, 500, (0, 500, 1, 101)),
        (50_012, 25_000, 500, (25_000, 25_500, 51, 101)),
        (50_012, 25_123, 500, (25_000, 25_500, 51, 101)),  # aligned down to its page
        (50_012, 50_000, 500, (50_000, 50_012, 101, 101)),
        (50_012, 99_999, 500, (50_000, 50_012, 101, 101)),  # past the end: the last page
        (50_012, -5, 500, (0, 500, 1, 101)),
        (10, 3, 0, (3, 4, 4, 10)),  # a zero limit counts as one
    ],
)
def test_page_bounds(total: int, offset: int, limit: int, expected: tuple[int, int, int, int]) -> None:
    bounds = page_bounds(total, offset, limit)
    assert (bounds.offset, bounds.end, bounds.page, bounds.pages) == expected


def test_log_ref_key_and_filename() -> None:
    ref = TaskLogRef(3, "example_params", "manual__2026-11-25T17:55:49+00:00", "show_params", 2, map_index=4)
    assert ref.cache_key == "dags:log:3:example_params:manual__2026-11-25T17:55:49+00:00:show_params:4:2"
    assert ref.filename == "example_params__manual__2026-11-25T17_55_49_00_00__show_params__map4__try2.log"
    assert LogRecord(1, "", "", "x").as_text() == "x"
    assert LogRecord(1, "t", "info", "x").as_text() == "t [info] x"
