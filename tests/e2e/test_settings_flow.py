"""An admin edits settings in the browser: a bad value comes back as a form error with the
input kept, a fixed one is saved, and the phone layout keeps every field usable."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SCREENSHOTS, LiveServer, browser_login, screenshot

pytestmark = pytest.mark.e2e


def test_admin_fixes_a_refused_value_and_saves(page: Any, live_server: LiveServer) -> None:
    from console.services import settings

    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_login(page, live_server, "admin")
    page.goto(f"{live_server.url}/admin/settings/")
    page.fill("#setting-log_page_size", "lots")
    page.select_option("#setting-default_timezone", "Europe/Paris")
    page.click("[data-testid=save-settings]")
    error = page.wait_for_selector("[data-testid=error-log_page_size]")
    assert error.inner_text() == "Enter a whole number of lines."
    assert page.input_value("#setting-log_page_size") == "lots"
    assert page.input_value("#setting-default_timezone") == "Europe/Paris"
    screenshot(page, "settings_error")

    page.fill("#setting-log_page_size", "750")
    page.click("[data-testid=save-settings]")
    page.wait_for_selector("text=Saved: default_timezone, log_page_size.")
    with live_server.app.app_context():
        assert settings.value("log_page_size") == 750
        assert settings.value("default_timezone") == "Europe/Paris"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "settings_desktop.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector("[data-testid=save-settings]")
    page.screenshot(path=str(SCREENSHOTS / "settings_phone.png"))
    box = page.query_selector("#setting-smtp_host").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    # The refused form is answered 400 (with the page), which the browser reports; nothing else.
    assert [p for p in problems if "status of 400" not in p] == []
