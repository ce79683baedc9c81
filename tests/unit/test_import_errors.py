"""The Import errors page without the sandbox: a server that is down is a banner and the page still
renders; a fake Airflow with 150 failing files (more than one API page, which the sandbox cannot
be made to have on demand) is read in two pages, each error escaped and long ones folded; bad
filters are a 400 with the reason."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape

from flask import Flask

from tests.fakes import FakeAirflow, Reply, Seen
from tests.unit.test_dags_faults import register

TRACE = "Traceback (most recent call last):\n" + "".join(f'  File "x.py", line {n}\n' for n in range(20))


def import_error(n: int) -> dict[str, object]:
    last = "NameError: name '<script>alert(1)</script>' is not defined"
    return {
        "import_error_id": n,
        "timestamp": "2026-12-01T10:00:00Z",
        "filename": f"dags/broken_{n:03d}.py",
        "bundle_name": "dags-folder",
        "stack_trace": (TRACE if n % 2 else "") + last,
    }


def paged(seen: Seen) -> Reply:
    limit, offset = int(seen.query["limit"][0]), int(seen.query.get("offset", ["0"])[0])
    rows = [import_error(n) for n in range(150)][offset : offset + limit]
    return Reply(200, {"import_errors": rows, "total_entries": 150})


def test_a_down_server_is_a_banner_and_the_page_still_renders(app: Flask, login_as) -> None:
    register(app, "down", "http://127.0.0.1:9")
    response = login_as("viewer").get("/admin/import-errors/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="server-banner" data-server="down"' in html
    assert "the import errors cannot be read now" in html


def test_fake_airflow_150_import_errors_are_read_in_two_pages_escaped_and_folded(
    app: Flask, login_as, start_fake: Callable[[FakeAirflow], FakeAirflow]
) -> None:
    fake = start_fake(FakeAirflow(tokens=False))
    fake.route("GET", "/api/v2/importErrors", paged)
    register(app, "many", fake.url, read_timeout=5)
    viewer = login_as("viewer")
    html = viewer.get("/admin/import-errors/").get_data(as_text=True)
    assert len([s for s in fake.seen if s.path == "/api/v2/importErrors"]) == 2
    assert html.count('data-testid="import-error"') == 150
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count('data-testid="import-error-folded"') == 75  # the odd ones' 22-line traces
    assert re.search(r'data-testid="import-error-count">150 files failing\s+on 1 of 1 server', html)

    found = viewer.get("/admin/import-errors/?q=BROKEN_007&server=many").get_data(as_text=True)
    assert re.findall(r'data-file="([^"]+)"', found) == ["dags/broken_007.py"]
    none = viewer.get("/admin/import-errors/?q=nothing-like-this").get_data(as_text=True)
    assert 'data-testid="no-import-errors"' in none and "No import error matches these filters." in none


def test_bad_filters_are_a_400_with_the_reason(app: Flask, login_as) -> None:
    viewer = login_as("viewer")
    unknown = viewer.get("/admin/import-errors/?server=nowhere")
    assert unknown.status_code == 400
    assert "no enabled Airflow server named 'nowhere'" in unescape(unknown.get_data(as_text=True))
    long = viewer.get("/admin/import-errors/?q=" + "x" * 201)
    assert long.status_code == 400 and "longer than 200 characters" in long.get_data(as_text=True)
