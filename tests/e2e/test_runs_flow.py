"""A viewer opens the Runs screen from the top menu, follows "Failed, last 24 h" and sees a run
of example_fails that just failed, on a desktop and on a phone (no page-wide sideways scroll),
and opens the run from its row."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.conftest import browser_login, sandbox_api, screenshot, wait_for_run

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory(CACHE_TYPE="NullCache")


@pytest.fixture
def failed_run(airflow_sandbox: Any) -> str:
    api = sandbox_api(airflow_sandbox, "e2e")
    if api.get_dag("example_fails").is_paused:
        api.set_paused("example_fails", False)
    run = api.trigger_dag_run("example_fails", run_id=f"e2e_runs_{time.time_ns()}")
    assert wait_for_run(api, "example_fails", run.run_id).state == "failed"
    return str(run.run_id)


@pytest.mark.parametrize(("viewport", "name"), [(DESKTOP, "runs_failed_desktop"), (PHONE, "runs_failed_phone")])
def test_failed_last_day_lists_the_failed_run_and_opens_it(
    browser, live_server, sandbox_server, failed_run: str, viewport: dict[str, int], name: str
) -> None:
    context = browser.new_context(viewport=viewport, is_mobile=viewport["width"] < 500)
    context.set_default_timeout(60000)
    page = context.new_page()
    browser_login(page, live_server, "viewer")
    page.goto(f"{live_server.url}/admin/runs/")
    page.click("[data-testid=failed-last-day]")
    page.wait_for_url("**/admin/runs/?state=failed*")
    row = page.locator(f"[data-testid=run-row][data-run='{failed_run}']")
    assert row.count() == 1
    assert (
        page.locator("[data-testid=run-row] [data-testid=state]").all_inner_texts()
        == ["failed"] * page.locator("[data-testid=run-row]").count()
    )
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    screenshot(page, name)
    row.locator(f"a:text-is('{failed_run}')").click()
    page.wait_for_url(f"**/example_fails/runs/{failed_run}/")
    context.close()
