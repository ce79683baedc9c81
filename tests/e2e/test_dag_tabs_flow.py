"""A viewer opens a DAG: the grid's cells are coloured by state and open the task instance, task
groups collapse, the graph draws one node per task with its dependencies, and the code tab
numbers its lines, all with nothing refused by the script policy; desktop and phone screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from console.airflow.client import AirflowClient
from tests.conftest import RUN_PATIENCE_MS, browser_login, sandbox_api, screenshot, wait_for_run
from tests.e2e.test_csp_flow import violations as violations

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def api(airflow_sandbox: Any) -> Iterator[AirflowClient]:
    client = sandbox_api(airflow_sandbox, "e2e")
    yield client


@pytest.fixture(scope="module")
def wide_run(api: AirflowClient) -> Iterator[str]:
    """A finished run of example_wide (paused by default: unpaused for the run, paused again)."""
    api.set_paused("example_wide", False)
    try:
        run_id = api.trigger_dag_run("example_wide", note="console e2e: grid").run_id
        wait_for_run(api, "example_wide", run_id, timeout=RUN_PATIENCE_MS / 1000)
        yield run_id
    finally:
        api.set_paused("example_wide", True)


@pytest.fixture(scope="module")
def quick_run(api: AirflowClient) -> str:
    """A finished run of example_quick, so that the runs tab has one to filter on whatever ran before."""
    run_id = api.trigger_dag_run("example_quick", note="console e2e: runs filter").run_id
    return wait_for_run(api, "example_quick", run_id, timeout=RUN_PATIENCE_MS / 1000).state


def test_grid_cells_are_coloured_and_open_the_task_in_its_run(
    page, live_server, sandbox_server, api, violations
) -> None:
    run_id = api.trigger_dag_run("example_multi", note="console e2e: grid").run_id
    wait_for_run(api, "example_multi", run_id)
    browser_login(page, live_server, "viewer")
    page.goto(f"{live_server.url}/admin/dags/{sandbox_server}/example_multi/")
    cell = page.locator(
        f"[data-testid=grid-row][data-node-id=transform_b] [data-testid=grid-cell][data-run-id='{run_id}']"
    )
    assert cell.get_attribute("data-state") == "success"
    colour = cell.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(47, 158, 68)"  # .state-success in states.css
    assert "try: 1" in cell.get_attribute("title")
    cell.click()
    page.wait_for_url(re.compile(r"/runs/.+/tasks/transform_b/$"))
    assert page.locator("[data-testid=ti-state]").inner_text() == "success"
    assert violations == []


def test_wide_dag_grid_groups_collapse_and_graph_draws_every_task(
    page, live_server, sandbox_server, api, wide_run, violations
) -> None:
    browser_login(page, live_server, "viewer")
    base = f"{live_server.url}/admin/dags/{sandbox_server}/example_wide"
    page.goto(f"{base}/")
    rows = page.locator("[data-testid=grid-row]")
    region = page.locator("[data-testid=grid-row][data-node-id='region_3.part_07']")
    assert region.is_visible()
    shard = page.locator(f"[data-testid=grid-row][data-node-id=shard] [data-run-id='{wide_run}']")
    assert shard.inner_text().strip().startswith("3") and "3 success" in shard.get_attribute("title")
    page.click("[data-grid-toggle=region_3]")
    assert region.is_hidden()
    page.click("[data-grid-collapse-all]")
    top = page.locator("[data-testid=grid-row][data-ancestors='']")  # start, eight regions, shard, end
    assert sum(r.is_visible() for r in rows.all()) == top.count() == 11
    page.click("[data-grid-toggle=region_0]")
    screenshot(page, "dag_grid")
    page.set_viewport_size(PHONE)
    screenshot(page, "dag_grid_phone")
    page.set_viewport_size({"width": 1400, "height": 900})

    page.click("[data-testid=tab-graph]")
    page.wait_for_selector("[data-testid=graph-svg]")
    tasks = len(api.dag_tasks("example_wide"))
    assert page.locator("[data-testid=graph-node]").count() == tasks
    assert page.locator("[data-testid=graph-edge][data-from=start][data-to='region_0.validate']").count() == 1
    assert page.locator("[data-testid=graph-group]").count() == 9  # eight regions and one nested group
    assert page.locator("[data-testid=graph-node][data-task-id=shard]").get_attribute("data-state") == "success"
    print(f"graph of {tasks} tasks drawn in {page.get_attribute('[data-graph]', 'data-draw-ms')} ms")
    screenshot(page, "dag_graph")
    page.set_viewport_size(PHONE)
    screenshot(page, "dag_graph_phone")
    assert violations == []


def test_code_tab_numbers_the_lines_of_the_dag_file(page, live_server, sandbox_server, quick_run, violations) -> None:
    browser_login(page, live_server, "viewer")
    page.goto(f"{live_server.url}/admin/dags/{sandbox_server}/example_quick/code")
    lines = page.locator("[data-testid=source-code] .ln")
    assert lines.count() > 10
    assert lines.nth(9).evaluate("e => getComputedStyle(e, '::before').content") == "counter(ln)"
    assert lines.nth(9).evaluate("e => getComputedStyle(e).counterIncrement") == "ln 1"
    assert "example_quick" in lines.first.inner_text()
    screenshot(page, "dag_code")
    page.set_viewport_size(PHONE)
    screenshot(page, "dag_code_phone")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.click("[data-testid=tab-runs]")
    page.select_option("#runs-state", quick_run)
    page.click("[data-testid=runs-filter-apply]")
    page.wait_for_url(re.compile(rf"state={quick_run}"))
    states = {row.get_attribute("data-state") for row in page.locator("[data-testid=run-row]").all()}
    assert states == {quick_run}
    screenshot(page, "dag_runs")
    assert violations == []
