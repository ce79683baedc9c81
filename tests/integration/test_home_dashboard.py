"""The home page at a glance, from the real sandbox plus a server that is down."""

from __future__ import annotations

import json
import re
import time

import pytest

from console.extensions import db
from console.services.servers import register_server
from tests.conftest import sandbox_api, wait_for_run

pytestmark = pytest.mark.integration


def stat(html: str, name: str) -> str:
    match = re.search(rf'data-testid="stat-{name}">([^<]+)<', html)
    assert match, f"no stat {name}"
    return match.group(1).strip()


def test_home_counts_dags_shows_failing_and_banner_for_down_server(
    app, login_as, sandbox_server, airflow_sandbox
) -> None:
    client = sandbox_api(airflow_sandbox)
    run = client.trigger_dag_run("example_fails", run_id=f"home_{time.time_ns()}")
    wait_for_run(client, "example_fails", run.run_id)
    with app.app_context():
        register_server(name="down", base_url="http://127.0.0.1:9", username="x", secret="y")
        db.session.commit()

    html = login_as("viewer").get("/admin/").get_data(as_text=True)
    assert int(stat(html, "dags")) >= 6
    assert int(stat(html, "failed")) >= 1
    failing = re.search(r'data-testid="failing-list">(.*?)</ul>', html, re.S).group(1)
    assert "example_fails" in failing and "sandbox" in failing
    assert re.search(r'data-testid="server-banner">\s*<strong>down</strong>', html)
    chart = json.loads(re.search(r"data-chart='([^']+)'", html).group(1))
    assert "failed" in chart["labels"] and sum(chart["values"]) >= 6
