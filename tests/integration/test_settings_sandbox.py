"""Settings against the real Airflow sandbox: an admin's new log page size and log size cap,
saved through one web worker, shape the log viewer of another without a restart."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tests.conftest import Auth
from tests.integration.test_logs_viewer import large_log_run, log_url  # noqa: F401  (a fixture)
from tests.unit.test_settings import admin_client, post

pytestmark = pytest.mark.integration


def test_log_page_size_and_cap_apply_in_another_worker_at_once(
    app_factory: Callable[..., Flask],
    sandbox_server: int,
    large_log_run: str,  # noqa: F811
) -> None:
    viewer_app = app_factory(CACHE_TYPE="SimpleCache")
    viewer = Auth(viewer_app, viewer_app.test_client())("viewer")
    url = log_url(sandbox_server, large_log_run)
    assert 'data-page-size="500"' in viewer.get(url).get_data(as_text=True)

    admin_app = app_factory()
    saved = post(admin_client(admin_app), {"log_page_size": "250", "log_max_lines": "2000"})
    assert saved.status_code == 302

    assert 'data-page-size="250"' in viewer.get(url).get_data(as_text=True)
    first = viewer.get(url + "/lines?offset=0").get_json()
    assert len(first["lines"]) == 250
    assert (first["truncated"], first["total_lines"], first["pages"]) == (True, 2000, 8)
