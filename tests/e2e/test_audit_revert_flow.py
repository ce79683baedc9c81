"""An admin edits a setting and a variable, opens the audit log, filters it (with the page's
form) to each of them, sees both diffs, reverts the variable after reading the confirmation,
and Airflow has the old value again; the revert is itself in the audit log.  Screenshots of
the variable's open diff (desktop and phone)."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from console.airflow.errors import AirflowNotFound
from tests.conftest import LiveServer, browser_login, sandbox_api, screenshot
from tests.e2e import create_variable_in_browser, edit_variable_in_browser

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SETTING = "dashboard_refresh_seconds"
OLD, NEW = "ops-team@example.com", "data-team@example.com"


def filter_audit_log(page: Any, object_type: str, object_id: str) -> Any:
    """Fill the audit page's filter form with one object, apply it, and return the rows."""
    form = page.locator("[data-testid=audit-filters]")
    form.locator("input[name=object_type]").fill(object_type)
    form.locator("input[name=object_id]").fill(object_id)
    form.locator("[data-testid=audit-apply]").click()
    page.wait_for_url(f"**object_id={object_id}**")
    return page.locator("[data-testid=audit-row]")


def test_admin_reverts_a_variable_change_from_the_audit_log(
    page: Any, live_server: LiveServer, sandbox_server: int, airflow_sandbox: Any
) -> None:
    api = sandbox_api(airflow_sandbox)
    key = f"report_owner_{uuid.uuid4().hex[:6]}"
    variables_url = f"{live_server.url}/admin/variables/{sandbox_server}"
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.set_viewport_size({"width": 1280, "height": 800})
    try:
        browser_login(page, live_server, "admin")
        page.goto(f"{live_server.url}/admin/settings/")
        old_refresh = page.input_value(f"#setting-{SETTING}")
        new_refresh = "45" if old_refresh != "45" else "50"
        page.fill(f"#setting-{SETTING}", new_refresh)
        page.click("[data-testid=save-settings]")
        expect(page.get_by_text(f"Saved: {SETTING}.")).to_be_visible()

        create_variable_in_browser(page, variables_url, key, OLD, "Who reads the daily report")
        edit_variable_in_browser(page, variables_url, key, NEW)
        assert api.get_variable(key)["value"] == NEW

        page.click("nav >> text=Audit log")
        page.wait_for_selector("[data-testid=audit-filters]")
        rows = filter_audit_log(page, "setting", SETTING)
        expect(rows).to_have_count(1)
        rows.first.locator("[data-testid=audit-open]").click()
        diff = page.locator("[data-testid=audit-diff] [data-testid=diff-row][data-field=value_json]")
        expect(diff.locator(".audit-old")).to_have_text(f"{old_refresh} (default)")  # no value stored before
        expect(diff.locator(".audit-new")).to_have_text(new_refresh)

        page.click("nav >> text=Audit log")
        rows = filter_audit_log(page, "variable", key)
        expect(rows).to_have_count(2)  # the create, then the edit (newest first)
        edit_id = rows.first.get_attribute("data-event-id")
        rows.first.locator("[data-testid=audit-open]").click()
        diff = page.locator("[data-testid=audit-diff] [data-testid=diff-row][data-field=value]")
        expect(diff.locator(".audit-old")).to_have_text(OLD)
        expect(diff.locator(".audit-new")).to_have_text(NEW)
        screenshot(page, "variable-history")
        page.set_viewport_size({"width": 390, "height": 844})
        screenshot(page, "variable-history-phone")
        page.set_viewport_size({"width": 1280, "height": 800})

        page.click("[data-testid=audit-revert]")
        preview = page.locator("[data-testid=revert-diff] [data-testid=diff-row][data-field=value]")
        expect(preview.locator(".audit-old")).to_have_text(NEW)  # "Now"
        expect(preview.locator(".audit-new")).to_have_text(OLD)  # "After the revert"
        expect(page.locator("[data-testid=revert-warning]")).to_have_count(0)
        screenshot(page, "variable-revert")
        page.click("[data-testid=revert-confirm]")
        expect(page.get_by_text(f"Reverted event #{edit_id}: recorded as event #")).to_be_visible()
        assert api.get_variable(key)["value"] == OLD

        page.click("nav >> text=Audit log")
        rows = filter_audit_log(page, "variable", key)
        expect(rows).to_have_count(3)
        expect(rows.first).to_contain_text(f"revert of #{edit_id}")
        rows.first.locator("[data-testid=audit-open]").click()
        diff = page.locator("[data-testid=audit-diff] [data-testid=diff-row][data-field=value]")
        expect(diff.locator(".audit-old")).to_have_text(NEW)
        expect(diff.locator(".audit-new")).to_have_text(OLD)
        assert problems == []
    finally:
        with contextlib.suppress(AirflowNotFound):
            api.delete_variable(key)
