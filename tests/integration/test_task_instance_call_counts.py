"""The run page, the task-instance page, its clear preview and the Task instances list ask Airflow a
fixed number of times (``docs/PERFORMANCE.md``, "Airflow calls per view"), counted cold."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from console.airflow.client import AirflowClient
from tests.conftest import csrf_token, sandbox_api, wait_for_run
from tests.integration.test_dags_call_counts import airflow_calls as airflow_calls

pytestmark = pytest.mark.integration


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    """No cache: every view is a cold one."""
    return app_factory(CACHE_TYPE="NullCache")


@pytest.fixture(scope="module")
def multi_run(airflow_sandbox: Any) -> str:
    """A successful run of example_multi (the newest one, or a new one)."""
    api: AirflowClient = sandbox_api(airflow_sandbox, "count")
    done = api.list_dag_runs("example_multi", limit=1, state=["success"])
    if done:
        return done[0].run_id
    api.set_paused("example_multi", False)
    run_id = api.trigger_dag_run("example_multi").run_id
    assert wait_for_run(api, "example_multi", run_id).state == "success"
    return run_id


def test_calls_per_page(login_as, sandbox_server, multi_run, airflow_calls) -> None:
    login_as("operator")
    run = f"/admin/dags/{sandbox_server}/example_multi/runs/{multi_run}"
    airflow_calls.clear()
    assert login_as.client.get(run + "/").status_code == 200
    assert len(airflow_calls) == 3, airflow_calls  # the DAG, the run, its task instances

    airflow_calls.clear()
    assert login_as.client.get(run + "/tasks/extract/").status_code == 200
    assert len(airflow_calls) == 4, airflow_calls  # the task instance, its tries, XCom keys, 1 value

    token = csrf_token(login_as.client, "/admin/")
    airflow_calls.clear()
    preview = login_as.client.post(run + "/tasks/extract/clear", data={"downstream": "1", "csrf_token": token})
    assert preview.status_code == 200
    assert len(airflow_calls) == 1, airflow_calls  # the dry run

    airflow_calls.clear()
    assert login_as.client.get("/admin/task-instances/?state=success&page=2").status_code == 200
    assert len(airflow_calls) == 1, airflow_calls  # one window per server, any page
