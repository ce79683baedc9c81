"""The Runs screen against the real sandbox: a run of ``example_fails`` that failed is listed
under "failed" (and its link leads to the run) and not under "success"; the "Failed, last 24 h"
link lists it too; the chart bars of the dashboard lead to the same list."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest
from flask import Flask

from tests.conftest import sandbox_api, wait_for_run

pytestmark = pytest.mark.integration


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    """No cache: each view reads what Airflow has now."""
    return app_factory(CACHE_TYPE="NullCache")


def listed_runs(html: str) -> list[str]:
    return re.findall(r'data-testid="run-row" data-server="sandbox" data-dag="[^"]+" data-run="([^"]+)"', html)


def test_a_failed_sandbox_run_is_listed_under_failed_and_not_under_success(
    app, login_as, sandbox_server, airflow_sandbox
) -> None:
    viewer = login_as("viewer")
    api = sandbox_api(airflow_sandbox)
    if api.get_dag("example_fails").is_paused:
        api.set_paused("example_fails", False)
    run = api.trigger_dag_run("example_fails", run_id=f"runs_list_{time.time_ns()}")
    assert wait_for_run(api, "example_fails", run.run_id).state == "failed"

    failed = viewer.get("/admin/runs/?state=failed&dag=example_fails")
    assert failed.status_code == 200
    html = failed.get_data(as_text=True)
    assert run.run_id in listed_runs(html)
    assert f'/admin/dags/{sandbox_server}/example_fails/runs/{run.run_id}/"' in html
    success = viewer.get("/admin/runs/?state=success&dag=example_fails").get_data(as_text=True)
    assert run.run_id not in listed_runs(success)

    page = viewer.get("/admin/runs/").get_data(as_text=True)
    link = re.search(r'href="([^"]+)" data-testid="failed-last-day"', page)
    assert link
    last_day = viewer.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert run.run_id in listed_runs(last_day)
    assert viewer.get(f"/admin/dags/{sandbox_server}/example_fails/runs/{run.run_id}/").status_code == 200

    # the dashboard's "failed" bar of the run's hour leads to a Runs list that holds it
    home = viewer.get("/admin/").get_data(as_text=True)
    spec = re.search(r'data-testid="chart-per_hour" data-chart=\'([^\']+)\'', home)
    assert spec
    chart = json.loads(spec.group(1).replace("&#39;", "'"))
    bar = chart["labels"].index(f"{run.run_after:%H}:00")
    failed_bar = next(d for d in chart["datasets"] if d["label"] == "failed")
    assert failed_bar["data"][bar] >= 1
    assert run.run_id in listed_runs(viewer.get(failed_bar["links"][bar]).get_data(as_text=True))
