"""A DAG's grid, graph, code and runs tabs ask Airflow a bounded number of times whatever the
number of runs: a fake Airflow serving one DAG of T tasks with 100 runs (tasks, runs with
``limit``, the task-instance batch with ``page_limit``/``page_offset`` and ``total_entries``)
counts the calls.  A fake, because a real sandbox with hundreds of runs is too slow to build in a
unit test; the real tabs are tested in ``tests/integration/test_dag_tabs.py``."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from console.extensions import db
from console.services.dag_grid import MAX_TASK_INSTANCES
from tests.conftest import Auth
from tests.fakes import FakeAirflow, Reply, Seen

RUNS = 100


class OneDag:
    """The answers of an Airflow with DAG ``wide`` of ``tasks`` tasks and :data:`RUNS` runs."""

    def __init__(self, tasks: int) -> None:
        self.task_ids = [f"t{i:03d}" for i in range(tasks)]

    def details(self, _seen: Seen) -> Reply:
        return Reply(200, {"dag_id": "wide", "is_paused": False, "fileloc": "/dags/wide.py"})

    def tasks(self, _seen: Seen) -> Reply:
        rows = [
            {"task_id": t, "downstream_task_ids": self.task_ids[i + 1 : i + 2], "is_mapped": False}
            for i, t in enumerate(self.task_ids)
        ]
        return Reply(200, {"tasks": rows, "total_entries": len(rows)})

    def runs(self, seen: Seen) -> Reply:
        limit, offset = int(seen.query["limit"][0]), int(seen.query.get("offset", ["0"])[0])
        rows = [
            {"dag_id": "wide", "dag_run_id": f"run_{k}", "state": "success", "run_type": "manual", "conf": {}}
            for k in range(RUNS)
        ][offset : offset + limit]
        return Reply(200, {"dag_runs": rows, "total_entries": RUNS})

    def instances(self, seen: Seen) -> Reply:
        body = json.loads(seen.body)
        every = [(r, t) for r in body["dag_run_ids"] for t in self.task_ids]
        page = every[body["page_offset"] : body["page_offset"] + body["page_limit"]]
        rows = [
            {"dag_id": "wide", "dag_run_id": r, "task_id": t, "map_index": -1, "state": "success", "try_number": 1}
            for r, t in page
        ]
        return Reply(200, {"task_instances": rows, "total_entries": len(every)})

    def backfills(self, seen: Seen) -> Reply:
        limit, offset = int(seen.query["limit"][0]), int(seen.query.get("offset", ["0"])[0])
        rows = [
            {
                "id": 40 - k,
                "dag_id": "wide",
                "dag_display_name": "wide",
                "from_date": "2026-01-01T00:00:00Z",
                "to_date": "2026-06-30T00:00:00Z",
                "is_paused": False,
                "max_active_runs": 10,
                "reprocess_behavior": "none",
                "created_at": "2026-07-01T00:00:00Z",
                "updated_at": "2026-07-01T00:00:00Z",
                "completed_at": None,
            }
            for k in range(40)
        ][offset : offset + limit]
        return Reply(200, {"backfills": rows, "total_entries": 40})

    def serve(self, fake: FakeAirflow) -> FakeAirflow:
        fake.route("GET", "/api/v2/backfills", self.backfills)
        fake.route("GET", "/api/v2/dags/wide/details", self.details)
        fake.route("GET", "/api/v2/dags/wide/tasks", self.tasks)
        fake.route("GET", "/api/v2/dags/wide/dagRuns", self.runs)
        fake.route("POST", "/api/v2/dags/~/dagRuns/~/taskInstances/list", self.instances)
        fake.route("GET", "/api/v2/dagSources/wide", Reply(200, {"dag_id": "wide", "content": "x = 1\n"}))
        return fake


@pytest.fixture
def one_dag(
    app_factory: Callable[..., Flask], start_fake: Callable[[FakeAirflow], FakeAirflow]
) -> Callable[[int], tuple[Auth, FakeAirflow, int]]:
    """An app with one server whose DAG ``wide`` has ``tasks`` tasks, and a viewer signed in."""

    def make(tasks: int) -> tuple[Auth, FakeAirflow, int]:
        from console.services import servers

        fake = start_fake(OneDag(tasks).serve(FakeAirflow(tokens=False)))
        app = app_factory(CACHE_TYPE="NullCache")
        with app.app_context():
            server = servers.register_server(
                name="fake", base_url=fake.url, username="admin", secret="token", auth_kind="token"
            )
            db.session.commit()
            server_id = server.id
        login = Auth(app, app.test_client())
        login("viewer")
        return login, fake, server_id

    return make


def calls(one_dag: Any, tasks: int, tab: str) -> tuple[int, str, list[Seen]]:
    login, fake, server_id = one_dag(tasks)
    response = login.client.get(f"/admin/dags/{server_id}/wide/{tab}")
    assert response.status_code == 200
    return len(fake.seen), response.get_data(as_text=True), list(fake.seen)


@pytest.mark.parametrize("runs", [25, 50, 100])
def test_fake_airflow_grid_costs_three_calls_and_one_per_hundred_task_instances(one_dag, runs: int) -> None:
    count, html, _ = calls(one_dag, 4, f"?runs={runs}")
    assert count == 3 + math.ceil(runs * 4 / 100)  # details, tasks, runs, the task-instance pages
    assert html.count('data-testid="grid-cell"') == runs * 4


def test_fake_airflow_grid_of_a_wide_dag_shows_fewer_runs_within_the_bound(one_dag) -> None:
    count, html, _ = calls(one_dag, 200, "?runs=100")
    shown = MAX_TASK_INSTANCES // 200  # 12 runs of 200 tasks fit 2,500 task instances
    assert html.count('data-testid="grid-run"') == shown
    assert count == 3 + math.ceil(shown * 200 / 100) <= 3 + MAX_TASK_INSTANCES // 100
    assert 'data-testid="runs-limited"' in html


def test_fake_airflow_graph_code_and_runs_tabs_cost_a_fixed_number_of_calls(one_dag) -> None:
    graph, html, _ = calls(one_dag, 200, "graph")
    assert graph == 5  # details, tasks, runs, two pages of the newest run's 200 task instances
    assert "data-graph=" in html
    assert calls(one_dag, 200, "code")[0] == 2  # details, source
    runs_calls, _, seen = calls(one_dag, 4, "runs/?state=failed&run_type=manual&from=2026-01-01&to=2026-01-31&page=2")
    assert runs_calls == 2  # details, one page of runs
    query = seen[-1].query
    assert query["state"] == ["failed"] and query["run_type"] == ["manual"] and query["offset"] == ["25"]
    assert query["run_after_gte"][0].startswith("2026-01-01T00:00:00")
    assert query["run_after_lt"][0].startswith("2026-02-01T00:00:00")


def test_fake_airflow_backfills_tab_costs_two_calls_and_one_per_backfill_shown(one_dag) -> None:
    count, html, seen = calls(one_dag, 4, "backfills/?page=2")
    assert count == 2 + 10  # details, one page of 10 backfills, the runs of each
    assert html.count('data-testid="backfill-row"') == 10
    assert 'data-backfill-id="30"' in html  # page 2 of 40, newest first
    runs = [s.query for s in seen if s.path == "/api/v2/dags/wide/dagRuns"]
    assert {q["run_type"][0] for q in runs} == {"backfill"} and {q["limit"][0] for q in runs} == {"100"}
    # the fake's 100 runs (one full page) are each backfill's: all of them counted by state
    assert html.count('data-runs="100"') == 10 and html.count('data-count="100"') == 10
