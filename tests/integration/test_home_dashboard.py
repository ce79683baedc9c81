"""The home dashboard against the real sandbox: a run that fails and one that succeeds are
counted, charted and listed, the sandbox's health and version show, and a server that is down
shows as down beside it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from console.extensions import db
from console.services.servers import register_server
from tests.conftest import sandbox_api, wait_for_run

pytestmark = pytest.mark.integration


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    """No cache: each view reads what Airflow has now."""
    return app_factory(CACHE_TYPE="NullCache")


def stat(html: str, name: str) -> int:
    match = re.search(rf'data-testid="stat-{name}">([^<]+)<', html)
    assert match, f"no stat {name}"
    return int(match.group(1).split("/")[0])


def runs_24h(html: str, state: str) -> int:
    match = re.search(rf">(\d+) {state}</a>", html)
    assert match, f"no 24 h count of {state} runs"
    return int(match.group(1))


def chart(html: str, name: str) -> dict[str, Any]:
    match = re.search(rf'data-testid="chart-{name}" data-chart=\'([^\']+)\'', html)
    assert match, f"no chart {name}"
    return json.loads(match.group(1).replace("&#39;", "'"))


def finish(api: Any, dag_id: str) -> Any:
    if api.get_dag(dag_id).is_paused:
        api.set_paused(dag_id, False)
    run = api.trigger_dag_run(dag_id, run_id=f"dash_{time.time_ns()}")
    return wait_for_run(api, dag_id, run.run_id)


def test_the_dashboard_counts_real_runs_and_shows_a_down_server_beside_the_sandbox(
    app, login_as, sandbox_server, airflow_sandbox
) -> None:
    viewer = login_as("viewer")
    before = viewer.get("/admin/").get_data(as_text=True)
    api = sandbox_api(airflow_sandbox)
    failed = finish(api, "example_fails")
    succeeded = finish(api, "example_quick")
    assert (failed.state, succeeded.state) == ("failed", "success")
    with app.app_context():
        register_server(name="down", base_url="http://127.0.0.1:9", username="x", secret="y")
        db.session.commit()

    html = viewer.get("/admin/").get_data(as_text=True)
    assert stat(html, "dags") == api.count_dags() > 100
    assert stat(html, "failed") == stat(before, "failed") + 1
    assert runs_24h(html, "success") == runs_24h(before, "success") + 1
    card_end = 'data-testid="(?:server-card|console-health)"'
    sandbox = re.search(rf'data-server="sandbox" data-up="yes">(.*?){card_end}', html, re.S)
    assert sandbox and "Airflow 3.3.2" in sandbox.group(1) and "scheduler &#10003;" in sandbox.group(1)
    assert re.search(r'data-server="down" data-up="no">.*?connection refused', html, re.S)
    failures = re.search(r'data-testid="failing-list">(.*?)</ul>', html, re.S).group(1)  # type: ignore[union-attr]
    assert f"/example_fails/runs/{failed.run_id}/tasks/" in failures and "/logs/" in failures
    failing = chart(html, "most_failing")
    assert "example_fails" in failing["labels"]
    per_hour = {d["label"]: sum(d["data"]) for d in chart(html, "per_hour")["datasets"]}
    assert per_hour["failed"] >= 1 and per_hour["success"] >= 1
