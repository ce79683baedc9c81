"""An operator backfills example_daily from its Backfills tab in the browser: the form, the dry run
listing the three runs, the confirmation, and the new backfill in the list with its three runs;
then, a broken DAG file added, the DAG list's banner leads to it on the Import errors page.  On a
desktop and on a phone (no page-wide sideways scroll); the screenshots are the README's."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from console.airflow.client import AirflowClient
from tests.conftest import browser_login, sandbox_api, screenshot, wait_until
from tests.integration.test_backfills import DAG_ID, cancel_active, fresh_days
from tests.integration.test_import_errors import PATIENCE, dag_folder  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory(CACHE_TYPE="NullCache")


@pytest.fixture
def api(airflow_sandbox: Any) -> Iterator[AirflowClient]:
    """example_daily paused (its backfill runs stay queued) with no backfill running, before and after."""
    client = sandbox_api(airflow_sandbox, "e2e-backfill")
    if not client.get_dag(DAG_ID).is_paused:
        client.set_paused(DAG_ID, True)
    cancel_active(client)
    yield client
    cancel_active(client)


@pytest.mark.parametrize(("viewport", "name"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_an_operator_dry_runs_confirms_and_sees_the_backfill(
    browser,
    live_server,
    sandbox_server,
    api,
    dag_folder,  # noqa: F811 (the fixture imported above)
    viewport: dict[str, int],
    name: str,
) -> None:
    days = fresh_days(api)
    context = browser.new_context(viewport=viewport, is_mobile=viewport["width"] < 500)
    context.set_default_timeout(60000)
    page = context.new_page()
    try:
        browser_login(page, live_server, "operator")
        page.goto(f"{live_server.url}/admin/dags/{sandbox_server}/{DAG_ID}/")
        page.click("[data-testid=tab-backfills]")
        page.click("[data-testid=new-backfill]")
        page.fill("#from_date", days[0].isoformat())
        page.fill("#to_date", days[-1].isoformat())
        page.fill("#max_active_runs", "2")
        page.fill("#conf", '{"source": "e2e"}')
        screenshot(page, f"backfill_form_{name}")
        page.click("[data-testid=dry-run]")
        assert page.locator("[data-testid=dry-run-count]").inner_text() == "3"
        assert page.locator("[data-testid=dry-run-date]").all_inner_texts() == [f"{d} 00:00" for d in days]
        screenshot(page, f"backfill_dry_run_{name}")
        page.click("[data-testid=create-backfill]")
        page.wait_for_url(f"**/{DAG_ID}/backfills/")
        newest = api.list_backfills(DAG_ID, limit=1).backfills[0]
        assert (newest.from_date.date(), newest.to_date.date(), newest.active) == (days[0], days[-1], True)
        row = page.locator(f"[data-testid=backfill-row][data-backfill-id='{newest.id}']")
        assert row.get_attribute("data-status") == "running"
        runs = row.locator("[data-testid=backfill-progress]").get_attribute("data-runs")
        assert runs == "3"  # Airflow creates a backfill's runs with it
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        screenshot(page, f"backfills_{name}")

        _folder, broken = dag_folder
        wait_until(
            lambda: any(e.filename.endswith(broken) for e in api.list_import_errors()),
            PATIENCE,
            f"Airflow to report {broken}",
            interval=2,
        )
        page.goto(f"{live_server.url}/admin/dags/")
        page.click("[data-testid=import-errors-banner] [data-testid=import-errors-link]")
        page.wait_for_url("**/admin/import-errors/")
        assert re.search(r"\d+ files? failing", page.locator("[data-testid=import-error-count]").inner_text())
        card = page.locator("[data-testid=import-error]", has_text=broken)
        assert "broken</b> on purpose" in card.locator("[data-testid=import-error-trace]").inner_text()
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        screenshot(page, f"import_errors_{name}")
    finally:
        context.close()
