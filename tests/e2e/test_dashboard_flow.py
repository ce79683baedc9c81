"""A viewer opens the home dashboard on a desktop and on a phone: every chart draws (a canvas
with a Chart.js instance), a chart element leads to the list behind it, and the board refreshes
itself without a reload, moving its data age on."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from console.extensions import db
from tests.conftest import RUN_PATIENCE_MS, browser_login, sandbox_api, screenshot, wait_for_run

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CHARTS = ("per_hour", "per_day", "success_rate", "slowest", "most_failing")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    """The shortest refresh interval the setting allows."""
    return app_factory(DASHBOARD_REFRESH_SECONDS=5)


@pytest.fixture
def finished_runs(airflow_sandbox: Any) -> None:
    """A failed and a successful run in the last hour, so that every chart has something."""
    api = sandbox_api(airflow_sandbox, "e2e")
    for dag_id in ("example_fails", "example_quick"):
        if api.get_dag(dag_id).is_paused:
            api.set_paused(dag_id, False)
        run = api.trigger_dag_run(dag_id, run_id=f"e2e_dash_{time.time_ns()}")
        wait_for_run(api, dag_id, run.run_id)


def charts_drawn(page: Any) -> list[str]:
    """The charts whose canvas holds a Chart.js instance."""
    page.wait_for_selector("[data-testid=chart-per_hour][data-drawn=yes]")
    return page.evaluate(
        """names => names.filter(n => {
             const canvas = document.querySelector(`[data-testid=chart-${n}]`);
             return canvas && window.Chart.getChart(canvas) !== undefined;
           })""",
        list(CHARTS),
    )


def open_dashboard(browser: Any, live_server: Any, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport, is_mobile=viewport["width"] < 500)
    context.set_default_timeout(60000)
    page = context.new_page()
    browser_login(page, live_server, "viewer")
    return page


def add_down_server_and_task(app: Flask, sandbox_server_id: int) -> None:
    from console.services import servers, tasks

    with app.app_context():
        servers.register_server(name="staging", base_url="http://127.0.0.1:9", username="u", secret="p")
        tasks.create_task(
            {
                "name": "half-hourly quick",
                "server_id": sandbox_server_id,
                "dag_id": "example_quick",
                "cron": "*/30 * * * *",
            },
            check_dag=False,
        )
        db.session.commit()


def test_the_dashboard_draws_its_charts_and_refreshes_on_a_desktop(
    browser, live_server, sandbox_server, finished_runs
) -> None:
    add_down_server_and_task(live_server.app, sandbox_server)
    page = open_dashboard(browser, live_server, DESKTOP)
    assert charts_drawn(page) == list(CHARTS)
    assert page.locator("[data-testid=server-card][data-server=sandbox][data-up=yes]").count() == 1
    assert page.locator("[data-testid=server-card][data-server=staging][data-up=no]").count() == 1
    assert "half-hourly quick" in page.inner_text("[data-testid=upcoming-list]")
    board = page.locator("[data-testid=dash-board]")
    first = board.get_attribute("data-generated-at")
    assert page.inner_text("[data-testid=data-age]").startswith("data fetched ")
    page.wait_for_function(
        "first => document.querySelector('[data-testid=dash-board]').dataset.generatedAt !== first",
        arg=first,
        timeout=RUN_PATIENCE_MS,
    )
    age_after = page.get_attribute("[data-testid=data-age]", "data-fetched-at")
    assert age_after == board.get_attribute("data-fetched-at")  # the label follows the new board
    assert charts_drawn(page) == list(CHARTS)  # redrawn after the refresh
    screenshot(page, "dashboard_desktop")

    # a bar of the "most failing" chart leads to that DAG's failed runs
    centre = page.evaluate(
        """() => {
             const canvas = document.querySelector('[data-testid=chart-most_failing]');
             canvas.scrollIntoView({block: 'center'});
             const bar = window.Chart.getChart(canvas).getDatasetMeta(0).data[0];
             const box = canvas.getBoundingClientRect();
             return {x: box.left + (bar.x + bar.base) / 2, y: box.top + bar.y};
           }"""
    )
    page.mouse.click(centre["x"], centre["y"])
    page.wait_for_url("**/runs/?state=failed")
    assert page.locator("[data-testid=dag-title]").count() == 1
    page.context.close()


def test_the_dashboard_fits_a_phone_and_draws_its_charts(browser, live_server, sandbox_server, finished_runs) -> None:
    page = open_dashboard(browser, live_server, PHONE)
    assert charts_drawn(page) == list(CHARTS)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    width = page.evaluate("() => document.querySelector('[data-testid=chart-per_day]').getBoundingClientRect().width")
    assert 0 < width <= PHONE["width"]
    screenshot(page, "dashboard_phone")
    page.context.close()


def set_visibility(page: Any, state: str) -> None:
    page.evaluate(
        """state => {
             Object.defineProperty(document, 'visibilityState', {value: state, configurable: true});
             document.dispatchEvent(new Event('visibilitychange'));
           }""",
        state,
    )


def test_the_dashboard_pauses_its_refresh_while_the_tab_is_hidden(browser, live_server, sandbox_server) -> None:
    page = open_dashboard(browser, live_server, DESKTOP)
    page.wait_for_selector("#dashboard[data-refreshing=on]")
    set_visibility(page, "hidden")
    assert page.get_attribute("#dashboard", "data-refreshing") == "paused"
    with page.expect_request("**/admin/board") as shown:
        set_visibility(page, "visible")  # coming back refreshes at once, then on the interval
    assert shown.value.url.endswith("/admin/board")
    assert page.get_attribute("#dashboard", "data-refreshing") == "on"
    page.context.close()
