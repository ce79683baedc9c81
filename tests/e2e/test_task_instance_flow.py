"""An operator opens a task instance from the grid: its tries and its XCom are there, the clear
preview lists the downstream tasks; the run page shows who started it and the note form; desktop
and phone screenshots, nothing refused by the script policy."""

from __future__ import annotations

import re
from typing import Any

import pytest

from console.airflow.client import AirflowClient
from tests.conftest import RUN_PATIENCE_MS, browser_login, sandbox_api, screenshot, wait_for_run
from tests.e2e.test_csp_flow import violations as violations

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def api(airflow_sandbox: Any) -> AirflowClient:
    return sandbox_api(airflow_sandbox, "e2e")


def test_task_instance_page_from_the_grid_shows_tries_and_xcom(
    page, live_server, sandbox_server, api, violations
) -> None:
    from console.services import dag_actions

    email = browser_login(page, live_server, "operator")
    with live_server.app.app_context():
        run = dag_actions.trigger(
            email, sandbox_server, "example_multi", conf={"source": "e2e"}, note="console e2e: task instance"
        )
    run_id = run.run_id
    assert wait_for_run(api, "example_multi", run_id, timeout=RUN_PATIENCE_MS / 1000).state == "success"
    page.goto(f"{live_server.url}/admin/dags/{sandbox_server}/example_multi/")
    page.click(f"[data-testid=grid-row][data-node-id=extract] [data-testid=grid-cell][data-run-id='{run_id}']")
    page.wait_for_url(re.compile(r"/runs/.+/tasks/extract/$"))
    assert page.locator("[data-testid=ti-state]").inner_text() == "success"
    assert page.locator("[data-testid=try-row]").count() == 1
    value = page.locator("[data-testid=xcom-row][data-key=return_value] [data-testid=xcom-value]").inner_text()
    assert re.sub(r"\s+", "", value) == "[1,2,3,4]"
    assert page.locator("[data-testid=clear-preview]").is_visible()
    screenshot(page, "task-instance-desktop")
    page.check("[data-testid=clear-downstream]", force=True)
    page.click("[data-testid=clear-preview]")
    rows = page.locator("[data-testid=dry-run-row]")
    rows.first.wait_for()
    assert {rows.nth(i).get_attribute("data-task-id") for i in range(rows.count())} == {
        "extract", "transform_a", "transform_b", "load",
    }  # fmt: skip
    screenshot(page, "task-instance-clear-confirm")
    page.click("[data-testid=clear-cancel]")
    page.wait_for_url(re.compile(r"/tasks/extract/$"))
    page.click("[data-testid=try-log]")
    page.wait_for_url(re.compile(r"/tasks/extract/logs/1"))
    page.go_back()
    page.click(f"a[href$='/runs/{run_id}/']")
    page.wait_for_url(re.compile(r"/runs/[^/]+/$"))
    assert page.locator("[data-testid=note-form] textarea").input_value() == "console e2e: task instance"
    assert email in page.locator("[data-testid=run-origin]").inner_text()
    screenshot(page, "run-desktop")
    page.set_viewport_size(PHONE)
    screenshot(page, "run-phone")
    page.go_back()
    page.wait_for_url(re.compile(r"/tasks/extract/$"))
    screenshot(page, "task-instance-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/admin/task-instances/?dag=example_multi")
    assert page.locator(f"[data-testid=ti-row][data-run='{run_id}']").count() == 4
    screenshot(page, "task-instances-desktop")
    assert violations == []
