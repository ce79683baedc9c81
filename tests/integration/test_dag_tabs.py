"""A DAG's tabs against the real sandbox: the grid shows a triggered run's success cell, the graph
has the DAG's dependencies, the code tab shows the file Airflow parsed, the runs tab filters by
state, and bad input gets a message (never a 500)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from console.airflow.client import AirflowClient
from tests.conftest import sandbox_api, wait_for_run

pytestmark = pytest.mark.integration

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples" / "dags"


@pytest.fixture(scope="module")
def api(airflow_sandbox: Any) -> Iterator[AirflowClient]:
    client = sandbox_api(airflow_sandbox, "sandbox-api")
    for dag_id in ("example_quick", "example_fails", "example_multi"):
        if client.get_dag(dag_id).is_paused:
            client.set_paused(dag_id, False)
    yield client


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def test_grid_of_example_quick_shows_the_triggered_runs_success_cell(login_as, sandbox_server, api) -> None:
    run_id = api.trigger_dag_run("example_quick", note="console integration: grid").run_id
    wait_for_run(api, "example_quick", run_id)
    response = login_as("viewer").get(f"/admin/dags/{sandbox_server}/example_quick/")
    html = text(response)
    assert response.status_code == 200
    cell = re.search(r'<a class="grid-cell state-(\w+)"[^>]*data-run-id="' + re.escape(run_id) + '"[^>]*>', html)
    assert cell is not None and cell.group(1) == "success"
    assert f"/runs/{run_id}/tasks/say_hello/" in unescape(cell.group(0))


def test_grid_of_example_multi_after_two_runs_has_each_tasks_state_per_run(login_as, sandbox_server, api) -> None:
    runs = [api.trigger_dag_run("example_multi", note=f"console integration: grid {i}").run_id for i in (1, 2)]
    for run_id in runs:
        wait_for_run(api, "example_multi", run_id)
    html = text(login_as("viewer").get(f"/admin/dags/{sandbox_server}/example_multi/", query_string={"runs": 50}))
    rows = re.findall(r'data-testid="grid-row" data-node-id="([^"]+)"', html)
    assert rows == ["extract", "transform_a", "transform_b", "load"]
    for run_id in runs:
        states = re.findall(r'grid-cell state-(\w+)"[^>]*data-run-id="' + re.escape(run_id) + '"', html)
        assert states == ["success"] * 4


def test_graph_of_example_multi_is_extract_two_transforms_load(login_as, sandbox_server, api) -> None:
    html = text(login_as("viewer").get(f"/admin/dags/{sandbox_server}/example_multi/graph"))
    graph = json.loads(unescape(re.search(r'data-graph="([^"]*)"', html).group(1)))
    assert sorted(graph["edges"]) == [
        ["extract", "transform_a"],
        ["extract", "transform_b"],
        ["transform_a", "load"],
        ["transform_b", "load"],
    ]


def test_code_tab_shows_the_example_file_with_its_path(login_as, sandbox_server, api) -> None:
    html = text(login_as("viewer").get(f"/admin/dags/{sandbox_server}/example_quick/code"))
    first_line = (EXAMPLES_DIR / "example_quick.py").read_text().splitlines()[0]
    code = re.search(r'data-testid="source-code"><code>(.*?)</code>', html, re.S).group(1)
    assert first_line in unescape(re.sub(r"<[^>]+>", "", code))
    assert "example_quick.py" in re.search(r'data-testid="code-path">([^<]*)<', html).group(1)


def test_runs_tab_filtered_by_failed_shows_an_example_fails_run(login_as, sandbox_server, api) -> None:
    run_id = api.trigger_dag_run("example_fails", note="console integration: runs filter").run_id
    wait_for_run(api, "example_fails", run_id)
    html = text(login_as("viewer").get(f"/admin/dags/{sandbox_server}/example_fails/runs/?state=failed"))
    states = re.findall(r'data-testid="run-row" data-run-id="([^"]+)" data-state="(\w+)"', html)
    assert (run_id, "failed") in states and {s for _, s in states} == {"failed"}


def test_bad_tab_input_is_a_message_not_a_500(login_as, sandbox_server, api) -> None:
    client = login_as("viewer")
    base = f"/admin/dags/{sandbox_server}"
    bad_state = client.get(f"{base}/example_fails/runs/?state=exploded")
    assert bad_state.status_code == 400 and "Unknown run state" in text(bad_state)
    bad_date = client.get(f"{base}/example_fails/runs/?from=yesterday")
    assert bad_date.status_code == 400 and "is not a date" in text(bad_date)
    bad_runs = client.get(f"{base}/example_quick/?runs=9999")
    assert bad_runs.status_code == 400 and "choose one of 25, 50, 100" in text(bad_runs)
    for tab in ("", "graph", "code", "details", "runs/"):
        missing = client.get(f"{base}/no_such_dag/{tab}")
        assert missing.status_code == 404 and "does not exist" in text(missing), tab


def test_every_tab_of_a_down_server_shows_the_failure_banner(app, login_as, sandbox_server) -> None:
    from tests.integration.test_dags_screens import banner_servers, register_down_server

    down = register_down_server(app)
    client = login_as("viewer")
    for tab in ("", "graph", "code", "details", "runs/"):
        response = client.get(f"/admin/dags/{down}/example_quick/{tab}")
        html = text(response)
        assert response.status_code == 200, tab
        assert banner_servers(html) == ["down"] and "connection refused" in html, tab
