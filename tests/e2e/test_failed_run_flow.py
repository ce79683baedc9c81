"""An operator follows a failure from the dashboard to its re-run: the dashboard's failed-runs
count opens the Runs list of the last 24 h, the run opens, its DAG's grid shows the failed cell,
the cell opens the task instance, the try's log shows the error, and a clear with downstream
(after Airflow's dry run) makes the task run again, watched through the page's own refresh.
Desktop and phone screenshots at each step, nothing refused by the script policy."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import RUN_PATIENCE_MS, browser_login, screenshot
from tests.e2e.test_csp_flow import violations as violations
from tests.e2e.test_runs_flow import app as app
from tests.e2e.test_runs_flow import failed_run as failed_run

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Each load of a task-instance page notes its state and try in the tab's session storage, so the
# test reads the order of what the operator saw, whichever page load showed it.
NOTE_TI_STATES = """
document.addEventListener('DOMContentLoaded', () => {
  const state = document.querySelector('[data-testid=ti-state]');
  const tried = document.querySelector('[data-testid=ti-try]');
  if (!state || !tried) return;
  const seen = JSON.parse(sessionStorage.getItem('ti-seen') || '[]');
  seen.push([state.textContent.trim(), tried.textContent.trim().split(/\\s/)[0]]);
  sessionStorage.setItem('ti-seen', JSON.stringify(seen));
});
"""
# Two animation frames after a resize: the charts have redrawn to the new width.
SETTLED = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


def both(page: Any, name: str) -> None:
    """A desktop and a phone screenshot of the page as it is."""
    for size, suffix in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page.set_viewport_size(size)
        page.evaluate(SETTLED)
        screenshot(page, f"{name}-{suffix}")
    page.set_viewport_size(DESKTOP)


def seen_states(page: Any) -> list[tuple[str, str]]:
    """The task-instance states and tries the pages showed, repeats in a row folded."""
    seen = [tuple(pair) for pair in page.evaluate("() => JSON.parse(sessionStorage.getItem('ti-seen') || '[]')")]
    return [pair for i, pair in enumerate(seen) if i == 0 or pair != seen[i - 1]]


def test_from_the_dashboard_to_a_failed_run_its_log_and_a_clear_that_runs_it_again(
    page, live_server, sandbox_server, failed_run: str, violations
) -> None:
    page.set_viewport_size(DESKTOP)
    page.add_init_script(NOTE_TI_STATES)
    browser_login(page, live_server, "operator")

    # the dashboard's "runs failed, last 24 h" leads to the Runs list of failed runs of that span
    page.wait_for_selector("[data-testid=stat-failed]")
    assert int(page.inner_text("[data-testid=stat-failed]")) >= 1
    both(page, "failed-flow-1-dashboard")
    page.click("[data-testid=stat-link-failed]")
    page.wait_for_url(re.compile(r"/admin/runs/\?state=failed&from=\d{4}-\d\d-\d\dT\d\d(:|%3A)\d\d$"))
    row = page.locator(f"[data-testid=run-row][data-run='{failed_run}']")
    assert row.locator("[data-testid=state]").inner_text() == "failed"
    both(page, "failed-flow-2-runs")

    # the run, then its DAG's grid with the failed cell
    row.locator(f"a:text-is('{failed_run}')").click()
    page.wait_for_url(f"**/example_fails/runs/{failed_run}/")
    assert page.inner_text("[data-testid=run-state]") == "failed"
    page.click(".dag-crumbs a:text-is('example_fails')")
    page.wait_for_url(re.compile(r"/example_fails/$"))
    cell = page.locator(f"[data-testid=grid-row][data-node-id=boom] [data-run-id='{failed_run}']")
    assert cell.get_attribute("data-state") == "failed"
    assert cell.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(224, 49, 49)"  # .state-failed
    both(page, "failed-flow-3-grid")

    # the task instance and the log of its failed try
    cell.click()
    page.wait_for_url(re.compile(rf"/runs/{re.escape(failed_run)}/tasks/boom/$"))
    assert page.inner_text("[data-testid=ti-state]") == "failed"
    assert page.locator("[data-testid=try-row]").count() == 1
    page.click("[data-testid=try-row][data-try='1'] [data-testid=try-log]")
    page.wait_for_url(re.compile(r"/tasks/boom/logs/1"))
    expect(page.locator("[data-testid=log-lines]")).to_contain_text("example_fails: this task fails on purpose")
    page.set_viewport_size(PHONE)
    widest = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=log-lines] .msg')]"
        ".map(m => m.getBoundingClientRect().width))"
    )
    assert widest > PHONE["width"] / 2  # on a phone the message is not squeezed beside the time and level
    both(page, "failed-flow-4-log")
    page.go_back()
    page.wait_for_url(re.compile(r"/tasks/boom/$"))

    # clear with downstream: Airflow's dry run lists the task, then the clear
    page.check("[data-testid=clear-downstream]", force=True)
    page.click("[data-testid=clear-preview]")
    rows = page.locator("[data-testid=dry-run-row]")
    rows.first.wait_for()
    assert [rows.nth(i).get_attribute("data-task-id") for i in range(rows.count())] == ["boom"]
    assert "downstream" in page.inner_text("p.text-muted")
    both(page, "failed-flow-5-clear-confirm")
    page.click("[data-testid=clear-confirm]")
    page.wait_for_url(re.compile(r"/tasks/boom/$"))
    assert "Cleared 1 task instance" in page.inner_text("body")

    # the page refreshes itself until the second try has ended
    second = page.locator("[data-testid=try-row][data-try='2'] [data-testid=try-state]")
    expect(second).to_have_text("failed", timeout=RUN_PATIENCE_MS)
    assert page.inner_text("[data-testid=ti-try]").split()[0] == "2"
    assert page.locator("[data-testid=try-row]").count() == 2
    both(page, "failed-flow-6-rerun")
    seen = seen_states(page)
    assert seen[0] == ("failed", "1") and seen[-1] == ("failed", "2"), seen
    between = seen[1:-1]
    assert between and all(state != "failed" for state, _try in between), seen  # it was seen to run again
    page.click("[data-testid=try-row][data-try='2'] [data-testid=try-log]")
    expect(page.locator("[data-testid=log-lines]")).to_contain_text("example_fails: this task fails on purpose")
    assert violations == []
