"""An operator finds example_params, triggers it with a changed param, watches the run finish and
searches its log; a param holding HTML shows up as text, never as markup."""

from __future__ import annotations

import re
from typing import Any

import pytest

from console.extensions import db
from tests.conftest import RUN_PATIENCE_MS, browser_login, sandbox_api, screenshot, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

HOSTILE = "<script>window.__pwned = 1</script><b>bold?</b>"


def set_server_enabled(app: Any, name: str, enabled: bool) -> None:
    import sqlalchemy as sa

    from console.models import AirflowServer

    with app.app_context():
        db.session.execute(sa.update(AirflowServer).where(AirflowServer.name == name).values(enabled=enabled))
        db.session.commit()


def test_trigger_watch_and_search_the_log(page, live_server, sandbox_server, airflow_sandbox) -> None:
    api = sandbox_api(airflow_sandbox, "e2e")
    if api.get_dag("example_params").is_paused:
        api.set_paused("example_params", False)
    from console.services import servers

    with live_server.app.app_context():
        servers.register_server(name="staging", base_url="http://127.0.0.1:9", username="admin", secret="x")
        db.session.commit()

    browser_login(page, live_server, "operator")
    page.click("nav >> text=DAGs")
    page.wait_for_selector("[data-testid=dag-row][data-dag-id=example_params]")
    banner = page.locator("[data-testid=server-banner][data-server=staging]")
    assert "connection refused" in banner.inner_text()
    assert page.locator("[data-testid=dag-row][data-server=sandbox]").count() >= 6
    screenshot(page, "dags_list")
    set_server_enabled(live_server.app, "staging", False)

    page.fill("input[name=q]", "params")
    page.press("input[name=q]", "Enter")
    page.wait_for_url(re.compile(r"q=params"))
    assert page.locator("[data-testid=dag-row]").count() == 1
    page.click("[data-testid=dag-row][data-dag-id=example_params] [data-testid=dag-link]")
    page.wait_for_selector("[data-testid=dag-title]")
    page.click("[data-testid=tab-details]")
    page.wait_for_selector("[data-testid=tab-details].active")
    assert "ticket" in page.inner_text("body")
    screenshot(page, "dag_detail")

    page.click("[data-testid=trigger-link]")
    page.wait_for_selector("[data-testid=trigger-form]")
    page.fill("#param__count", "42")
    page.fill("#param__ticket", "E2E-1")
    page.fill("#param__greeting", HOSTILE)
    page.select_option("#param__color", "blue")
    page.click("label[for=param__dry_run]")
    assert page.is_checked("#param__dry_run")
    page.fill("#note", "end-to-end test")
    screenshot(page, "trigger_form")

    page.click("label[for=use_raw_conf]")  # the JSON alternative shows, the fields hide
    assert page.is_visible("#raw_conf") and not page.is_visible("#param__count")
    page.click("label[for=use_raw_conf]")
    assert page.is_visible("#param__count")

    page.click("[data-testid=trigger-submit]")
    page.wait_for_url(re.compile(r"/runs/[^/]+/$"))
    assert "Triggered example_params" in page.inner_text(".alert-success")
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=run-state]') || {}).textContent === 'success'",
        timeout=RUN_PATIENCE_MS,
    )
    assert '"count": 42' in page.inner_text("[data-testid=run-conf]")
    assert HOSTILE in page.inner_text("[data-testid=run-conf]")
    screenshot(page, "dag_run")

    page.click("[data-testid=task-row][data-task-id=show_params] [data-testid=log-link]")
    page.wait_for_selector("[data-testid=log-lines] .log-line")
    lines = page.locator("[data-testid=log-lines]")
    assert "param count = 42 (int)" in lines.inner_text()
    assert f"param greeting = '{HOSTILE}' (str)" in lines.inner_text()
    assert lines.locator("script, b").count() == 0
    assert page.evaluate("() => window.__pwned") is None

    page.fill("[data-log-search]", "param count")
    page.wait_for_selector("mark.log-match")
    assert page.locator("mark.log-match").first.is_visible()
    assert page.inner_text("mark.log-match >> nth=0").lower() == "param count"
    assert "1 of 1 matches" in page.inner_text("[data-testid=match-info]")
    page.locator(".current-match").first.scroll_into_view_if_needed()
    screenshot(page, "log_viewer")

    page.select_option("[data-log-level]", "error")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=log-lines]').textContent.includes('param count')"
    )


def test_follow_mode_shows_new_lines_of_a_running_task(page, live_server, sandbox_server, airflow_sandbox) -> None:
    api = sandbox_api(airflow_sandbox, "e2e")
    if api.get_dag("example_long").is_paused:
        api.set_paused("example_long", False)
    run_id = api.trigger_dag_run("example_long", note="console e2e: follow").run_id
    try:
        # a guard against a hang: a busy sandbox may queue it a while
        wait_until(lambda: api.list_task_instances("example_long", run_id)[0].state == "running", 600, "a running tick")
        browser_login(page, live_server, "viewer")
        page.goto(f"{live_server.url}/admin/dags/{sandbox_server}/example_long/runs/{run_id}/tasks/tick/logs/1")
        page.wait_for_selector("[data-testid=log-lines] .log-line")
        assert page.is_checked("[data-log-follow]")  # a running task is followed by default
        page.evaluate("() => { window.__sameDocument = true; }")
        first = page.inner_text("[data-testid=log-lines]")
        seen = max(int(n) for n in re.findall(r"tick (\d+)/60", first) or ["0"])
        page.wait_for_function(
            f"() => /tick {seen + 3}\\/60/.test(document.querySelector('[data-testid=log-lines]').textContent)",
            timeout=120_000,  # a guard: new lines come every second, polled every 2 s
        )
        assert page.evaluate("() => window.__sameDocument") is True  # new lines came without a reload
        assert "may still grow" in page.inner_text("[data-log-status]")
    finally:
        api.set_dag_run_state("example_long", run_id, "failed")
