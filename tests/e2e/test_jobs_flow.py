"""An operator selects DAGs on the DAG list, starts a bulk pause, and follows the job's page: the
progress bar (polled, no inline script) reaches 100% and every DAG's outcome shows; a real
``manage.py worker`` subprocess runs the job against the Airflow sandbox."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import LiveServer, browser_login, screenshot
from tests.integration.test_jobs_worker import Workers, delete_job_runs, sandbox_api

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

DAGS = ["generated_0147", "generated_0148", "generated_0149"]


@pytest.fixture
def queued_app(app_factory: Callable[..., Flask], tmp_path: Path) -> Flask:
    return app_factory(JOBS_IMMEDIATE=False, JOBS_QUEUE_PATH=str(tmp_path / "jobs.db"))


@pytest.fixture
def queued_server(queued_app: Flask) -> Iterator[LiveServer]:
    server = LiveServer(queued_app)
    yield server
    server.stop()


def test_bulk_pause_from_the_dag_list_shows_progress_to_100_and_each_outcome(
    page: Any, queued_server: LiveServer, queued_app: Flask, airflow_sandbox: Any, tmp_path: Path
) -> None:
    from console.extensions import db
    from console.services import servers

    with queued_app.app_context():
        servers.register_server(
            name="sandbox",
            base_url=airflow_sandbox.base_url,
            username=airflow_sandbox.username,
            secret=airflow_sandbox.password,
        )
        db.session.commit()
    workers = Workers(queued_app, tmp_path)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        workers.start()
        browser_login(page, queued_server, "operator")
        page.goto(f"{queued_server.url}/admin/dags/?q=generated_014")
        page.wait_for_selector("[data-testid=dag-row][data-dag-id=generated_0149]")
        assert page.is_disabled("button[value=pause]")
        for dag_id in DAGS:
            page.check(f"[data-testid=dag-row][data-dag-id={dag_id}] input[name=dag]")
        assert page.inner_text("[data-bulk-count]") == "3"
        page.click("button[value=pause]")
        page.wait_for_url(re.compile(r"/admin/jobs/\d+/$"))
        page.wait_for_function(
            "() => document.querySelector('[data-testid=job-percent]').textContent === '100%'", timeout=600_000
        )
        assert page.inner_text("[data-testid=job-state]") == "succeeded"
        assert page.evaluate("document.querySelector('[data-job-bar]').style.width") == "100%"
        rows = page.locator("[data-testid=job-item]")
        assert [rows.nth(i).locator("td").nth(2).inner_text() for i in range(3)] == DAGS
        assert page.locator("[data-testid=item-state]").all_inner_texts() == ["succeeded"] * 3
        assert page.locator("[data-testid=job-cancel]").count() == 0
        page.set_viewport_size({"width": 1280, "height": 800})
        screenshot(page, "job_progress")
        page.set_viewport_size({"width": 390, "height": 844})
        screenshot(page, "job_progress_phone")
        page.set_viewport_size({"width": 1280, "height": 800})

        page.click("nav >> text=Jobs")
        assert page.locator("[data-testid=job-row]").count() == 1
        assert "operator@example.com" in page.inner_text("[data-testid=job-row]")
        assert problems == []
    finally:
        workers.stop_all()
        delete_job_runs(sandbox_api(airflow_sandbox, "e2e-jobs"), DAGS)
