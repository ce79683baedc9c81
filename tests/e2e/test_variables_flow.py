"""An admin creates a variable and a sensitive one in the browser, edits the first, and Airflow has
the new value; the sensitive value never reaches the page.  Screenshots of the list and the edit
page (desktop and phone), the configuration page, the pools and a new connection's form."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import pytest

from console.airflow.errors import AirflowNotFound
from tests.conftest import LiveServer, browser_login, sandbox_api, screenshot
from tests.e2e import create_variable_in_browser, edit_variable_in_browser

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_admin_creates_and_edits_variables_in_the_browser(
    page: Any, live_server: LiveServer, sandbox_server: int, airflow_sandbox: Any
) -> None:
    api = sandbox_api(airflow_sandbox)
    key, secret_key = f"report_rows_{uuid.uuid4().hex[:6]}", f"smtp_password_{uuid.uuid4().hex[:6]}"
    planted = "planted-" + uuid.uuid4().hex
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    try:
        browser_login(page, live_server, "admin")
        base = f"{live_server.url}/admin/variables/{sandbox_server}"
        create_variable_in_browser(page, base, key, "100", "Rows per report")
        create_variable_in_browser(page, base, secret_key, planted, "Mail relay password")
        edit_variable_in_browser(page, base, key, "250")
        assert api.get_variable(key)["value"] == "250"

        page.goto(f"{base}/")
        assert planted not in page.content()
        screenshot(page, "variables_desktop")
        page.goto(f"{base}/edit?id={secret_key}")
        assert planted not in page.content() and page.input_value("#value") == ""
        screenshot(page, "variable_edit_desktop")
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{base}/")
        screenshot(page, "variables_phone")
        page.goto(f"{base}/edit?id={key}")
        screenshot(page, "variable_edit_phone")
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(f"{live_server.url}/admin/airflow-config/{sandbox_server}/?q=api")
        page.wait_for_selector("[data-testid=config-row][data-key='api.expose_config']")
        screenshot(page, "airflow_config_desktop")
        page.click("a[href='#providers']")
        page.wait_for_selector("[data-testid=provider-row]", state="visible")
        page.goto(f"{live_server.url}/admin/pools/{sandbox_server}/")
        page.wait_for_selector("[data-testid=object-row][data-object-id=default_pool]")
        screenshot(page, "pools_desktop")
        page.goto(f"{live_server.url}/admin/connections/{sandbox_server}/new")
        screenshot(page, "connection_new_desktop")
        assert problems == []
    finally:
        for k in (key, secret_key):
            with contextlib.suppress(AirflowNotFound):
                api.delete_variable(k)
