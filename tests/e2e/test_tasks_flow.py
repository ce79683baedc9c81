"""An operator creates a task in the browser (watching the cron preview), runs it now, sees it
succeed in the task's history and opens its log."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect

from console.extensions import db
from console.models import Task
from console.scheduler.process import SchedulerProcess
from tests.conftest import RUN_PATIENCE_MS, browser_login, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture
def app(app_factory: Any) -> Flask:
    # The monitor follows the run to its end quickly enough to watch it in the page.
    return app_factory(SCHEDULER_MONITOR_SECONDS=1.0, SCHEDULER_HEARTBEAT_SECONDS=1.0)


@contextlib.contextmanager
def running_scheduler(app: Flask) -> Iterator[None]:
    """The scheduler runs next to the web console, as ``make run`` does."""
    stop = threading.Event()
    thread = threading.Thread(target=SchedulerProcess(app).run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)


def choose_time_zone(page: Any, name: str) -> None:
    """Pick a zone in the Select2 box the way a person does: open it, type, press Enter."""
    page.click("#timezone + .select2-container, #s2id_timezone")
    page.keyboard.type(name)
    page.wait_for_selector(f".select2-results li:has-text('{name}'), .select2-result:has-text('{name}')")
    page.keyboard.press("Enter")


def test_create_a_task_run_it_now_and_open_its_log(page: Any, live_server: Any, sandbox_server: int) -> None:
    app = live_server.app
    browser_login(page, live_server, "operator")
    page.goto(f"{live_server.url}/admin/tasks/new/")

    page.fill("#name", "Quick example, weekday mornings")
    page.fill("#description", "Triggers example_quick at 05:00 on weekdays; also used to try Run now.")
    page.wait_for_selector("#dag_id option[value=example_quick]", state="attached")
    page.select_option("#dag_id", "example_quick")
    page.fill("#cron", "0 5 * * 1-5")
    expect(page.get_by_test_id("cron-words")).to_have_text("At 05:00, Monday through Friday")
    choose_time_zone(page, "Europe/Berlin")
    expect(page.get_by_test_id("cron-next")).to_contain_text("05:00 CE")
    expect(page.locator("[data-testid=cron-next] li")).to_have_count(5)
    page.fill("#alert_emails", "oncall@example.com")
    page.fill("#cron", "0 5 * * 1-")  # a typo shows the error at once ...
    expect(page.get_by_test_id("cron-error")).to_contain_text("not valid cron syntax")
    page.fill("#cron", "0 5 * * 1-5")  # ... and fixing it brings the words back
    expect(page.get_by_test_id("cron-words")).to_have_text("At 05:00, Monday through Friday")
    screenshot(page, "task_form")
    page.click("input[type=submit][value=Save]")
    page.wait_for_url("**/admin/tasks/**")
    assert "Record was successfully created." in page.inner_text("body")
    expect(page.locator("table.model-list")).to_contain_text("At 05:00, Monday through Friday")

    with app.app_context():
        task = db.session.scalars(sa.select(Task)).one()
        assert (task.cron, task.timezone, task.dag_id) == ("0 5 * * 1-5", "Europe/Berlin", "example_quick")
        task_id = task.id

    with running_scheduler(app):
        page.goto(f"{live_server.url}/admin/tasks/details/?id={task_id}")
        page.click("[data-testid=run-now]")
        page.wait_for_selector(".alert-success:has-text('Triggered')")
        row = "[data-testid=run-history] tbody tr"
        page.wait_for_selector(f"{row}[data-state=success]", timeout=RUN_PATIENCE_MS)  # the page refreshes itself
    assert page.inner_text("[data-testid=success-rate]") == "100%"
    run_id = page.get_attribute(f"{row}[data-state=success]", "data-run-id")
    assert run_id and "__manual__" in run_id
    assert run_id in page.inner_text("[data-testid=run-history]")
    screenshot(page, "task_detail")

    page.click(f"{row}[data-state=success] a.dag-run-id")
    page.wait_for_selector("[data-testid=run-id]")
    assert page.inner_text("[data-testid=run-id]") == run_id
    page.click("[data-testid=log-link]")
    expect(page.get_by_test_id("log-lines")).to_contain_text("hello from example_quick", timeout=RUN_PATIENCE_MS)


def test_a_refused_cron_is_shown_once_and_goes_when_edited(page: Any, live_server: Any, sandbox_server: int) -> None:
    browser_login(page, live_server, "operator")
    page.goto(f"{live_server.url}/admin/tasks/new/")
    page.fill("#name", "Bad cron")
    page.wait_for_selector("#dag_id option[value=example_quick]", state="attached")
    page.select_option("#dag_id", "example_quick")
    page.fill("#cron", "61 * * * *")
    page.click("input[type=submit][value=Save]")
    page.wait_for_selector("#cron.is-invalid")
    expect(page.locator("#cron + .invalid-feedback")).to_contain_text("61")
    expect(page.get_by_test_id("cron-preview")).to_have_class("cron-preview is-invalid")  # the preview ran...
    expect(page.get_by_test_id("cron-error")).to_have_text("")  # ...and left the message to the field
    page.fill("#cron", "61 * * * ")  # editing the field hands the message to the live preview
    expect(page.locator("#cron + .invalid-feedback")).to_have_count(0)
    expect(page.get_by_test_id("cron-error")).not_to_have_text("")
