"""The DAG list and the home page against the real sandbox, which has more than one API page of
DAGs (``GENERATED_DAGS`` never-running ones beside the examples): each view asks Airflow a fixed
number of times, whatever the number of DAGs (``docs/PERFORMANCE.md``, "Airflow calls per view")."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from console.airflow.session import AirflowSession
from tests.conftest import sandbox_api

pytestmark = pytest.mark.integration


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    """No cache: every view is a cold one."""
    return app_factory(CACHE_TYPE="NullCache")


@pytest.fixture
def airflow_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What every request to Airflow was for, in order (counted where every request passes)."""
    seen: list[str] = []
    call = AirflowSession.call

    def counting(self: AirflowSession, what: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(what)
        return call(self, what, *args, **kwargs)

    monkeypatch.setattr(AirflowSession, "call", counting)
    return seen


@pytest.fixture
def many_dags(airflow_sandbox: Any, sandbox_server: int) -> int:
    """The sandbox server's id, once it is known to have more than one API page of DAGs."""
    total = sandbox_api(airflow_sandbox, "count").count_dags()
    assert total > 100, (
        f"the sandbox has {total} DAGs: a reused sandbox started without generated DAGs "
        "(stop it: the test session then starts one with generated DAGs)"
    )
    return sandbox_server


def count(html: str, testid: str) -> int:
    match = re.search(rf'data-testid="{testid}">(\d+)', html)
    assert match, f"no {testid}"
    return int(match.group(1))


def test_the_dag_list_asks_airflow_four_times_with_many_dags(login_as, many_dags, airflow_calls) -> None:
    viewer = login_as("viewer")
    airflow_calls.clear()
    # The generated DAGs (150, never run): the calls do not depend on how many runs earlier tests
    # left on the examples (a busy DAG filling the latest-runs window costs a second batch:
    # tests/unit/test_dags_call_counts.py).
    html = viewer.get("/admin/dags/?q=generated_").get_data(as_text=True)
    assert count(html, "dag-count") > 100
    assert airflow_calls == ["list DAGs", "list DAG tags", "list import errors", "list the latest DAG runs"]


def test_the_home_page_asks_airflow_a_fixed_number_of_times_with_many_dags(login_as, many_dags, airflow_calls) -> None:
    viewer = login_as("viewer")
    airflow_calls.clear()
    html = viewer.get("/admin/").get_data(as_text=True)
    assert count(html, "stat-dags") > 100
    pages = airflow_calls.count("list recent DAG runs")
    assert 1 <= pages <= 5  # the newest DASHBOARD_MAX_RUNS (500) runs of the week, 100 a page
    fixed = sorted(c for c in airflow_calls if c != "list recent DAG runs")  # asked 4 at a time
    assert fixed == sorted(
        [
            "read the health",
            "read the version",
            "list import errors",
            *["list DAGs"] * 3,  # all, paused, with import errors (limit=1 each)
            *["count DAG runs"] * 6,  # running and queued now, four states in the last 24 h
            "list failed tasks",
        ]
    )
