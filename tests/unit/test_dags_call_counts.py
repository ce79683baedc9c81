"""The DAG list asks Airflow the same number of times whatever the number of DAGs (the home
page's count is in ``test_dashboard.py``): a fake Airflow serving N DAGs (with ``GET /dags``
filters, order, ``limit``/``offset`` and ``total_entries``, and the batch run list) counts the
calls at N=100 and N=1000.  A fake, because
a real sandbox with a thousand DAGs is too slow to build in a unit test; the real one is counted
in ``tests/integration/test_dags_screens.py``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from console.extensions import db
from tests.conftest import Auth
from tests.fakes import FakeAirflow, Reply, Seen


def last_state(i: int) -> str | None:
    if i % 10 == 1:
        return "failed"
    if i % 25 == 2:
        return "running"
    if i % 4 == 3:
        return None
    return "success"


def dag_json(i: int) -> dict[str, Any]:
    dag_id = f"dag_{i:04d}"
    return {
        "dag_id": dag_id,
        "dag_display_name": dag_id,
        "is_paused": i % 5 == 0,
        "is_stale": False,
        "has_import_errors": False,
        "owners": ["airflow"],
        "tags": [{"name": "even" if i % 2 == 0 else "odd", "dag_id": dag_id}],
        "next_dagrun_run_after": None,
    }


def run_json(i: int) -> dict[str, Any]:
    return {
        "dag_id": f"dag_{i:04d}",
        "dag_run_id": f"run_{i}",
        "state": last_state(i),
        "run_type": "manual",
        "logical_date": None,
        "run_after": f"2026-01-01T{i % 24:02d}:00:00Z",
        "conf": {},
    }


class ManyDags:
    """The answers of an Airflow with ``n`` DAGs."""

    def __init__(self, n: int) -> None:
        self.n = n

    def dags(self, seen: Seen) -> Reply:
        q = seen.query
        rows = list(range(self.n))
        if "paused" in q:
            rows = [i for i in rows if (i % 5 == 0) == (q["paused"][0] == "true")]
        if "last_dag_run_state" in q:
            rows = [i for i in rows if last_state(i) == q["last_dag_run_state"][0]]
        if "tags" in q:
            rows = [i for i in rows if dag_json(i)["tags"][0]["name"] in q["tags"]]
        if "dag_display_name_pattern" in q:
            rows = [i for i in rows if q["dag_display_name_pattern"][0].lower() in f"dag_{i:04d}"]
        if q.get("order_by", ["dag_id"])[0] == "-dag_id":
            rows.reverse()
        offset, limit = int(q.get("offset", ["0"])[0]), min(100, int(q.get("limit", ["50"])[0]))
        page = rows[offset : offset + limit]
        return Reply(200, {"dags": [dag_json(i) for i in page], "total_entries": len(rows)})

    def runs(self, seen: Seen) -> Reply:
        ids = json.loads(seen.body)["dag_ids"]
        runs = [run_json(int(d[4:])) for d in ids if last_state(int(d[4:])) is not None]
        return Reply(200, {"dag_runs": runs, "total_entries": len(runs)})

    def serve(self, fake: FakeAirflow) -> FakeAirflow:
        fake.route("GET", "/api/v2/dags", self.dags)
        fake.route("POST", "/api/v2/dags/~/dagRuns/list", self.runs)
        fake.route("GET", "/api/v2/dagTags", Reply(200, {"tags": ["even", "odd"], "total_entries": 2}))
        fake.route("GET", "/api/v2/importErrors", Reply(200, {"import_errors": [], "total_entries": 0}))
        return fake


@pytest.fixture
def many_dags(
    app_factory: Callable[..., Flask], start_fake: Callable[[FakeAirflow], FakeAirflow]
) -> Callable[[int], tuple[Auth, FakeAirflow]]:
    """An app (no cache) with one server of ``n`` fake DAGs, and a viewer signed in."""

    def make(n: int) -> tuple[Auth, FakeAirflow]:
        from console.services import servers

        fake = start_fake(ManyDags(n).serve(FakeAirflow(tokens=False)))
        app = app_factory(CACHE_TYPE="NullCache")
        with app.app_context():
            servers.register_server(name="many", base_url=fake.url, username="admin", secret="token", auth_kind="token")
            db.session.commit()
        login = Auth(app, app.test_client())
        login("viewer")
        return login, fake

    return make


def calls_for(many_dags: Callable[[int], tuple[Auth, FakeAirflow]], n: int, url: str) -> tuple[int, str]:
    login, fake = many_dags(n)
    response = login.client.get(url)
    assert response.status_code == 200
    return len(fake.seen), response.get_data(as_text=True)


def dag_count(html: str) -> int:
    return int(re.search(r'data-testid="dag-count">(\d+)', html).group(1))  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "url",
    [
        "/admin/dags/",
        "/admin/dags/?page=2&per_page=50",
        "/admin/dags/?sort=dag&desc=1",
        "/admin/dags/?tag=even&paused=active",
        "/admin/dags/?state=failed",
        "/admin/dags/?sort=state",
        "/admin/dags/?state=none",
    ],
)
def test_fake_airflow_dag_list_calls_do_not_grow_with_the_number_of_dags(many_dags, url: str) -> None:
    small, _ = calls_for(many_dags, 100, url)
    large, _ = calls_for(many_dags, 1000, url)
    assert small == large


def test_fake_airflow_dag_list_first_page_costs_four_calls_and_counts_from_totals(many_dags) -> None:
    calls, html = calls_for(many_dags, 1000, "/admin/dags/")
    assert calls == 4  # the window, the tags, the import-error count, the latest runs of the visible rows
    assert dag_count(html) == 1000
    assert html.count('data-testid="dag-row"') == 25
    _, failed = calls_for(many_dags, 1000, "/admin/dags/?state=failed")
    assert dag_count(failed) == 100


def busy_batch(runs_per_dag: dict[int, int]) -> Callable[[Seen], Reply]:
    """``POST /dags/~/dagRuns/list`` for DAGs with these many runs: the newest 100 of those asked
    for, the busiest DAG's first (as Airflow orders by ``run_after``)."""

    def reply(seen: Seen) -> Reply:
        asked = json.loads(seen.body or b"{}")["dag_ids"]
        rows = [
            {**run_json(n), "dag_run_id": f"run_{n}_{k}"}
            for n, count in sorted(runs_per_dag.items(), key=lambda item: -item[1])
            if f"dag_{n:04d}" in asked
            for k in range(count)
        ]
        return Reply(200, {"dag_runs": rows[:100], "total_entries": len(rows)})

    return reply


def latest_of(fake: FakeAirflow, *dags: int) -> dict[str, str]:
    from console.airflow.client import AirflowClient
    from console.airflow.tokens import TokenCache

    client = AirflowClient(fake.url, static_token="t", attempts=1, token_cache=TokenCache())
    latest = client.latest_runs_of([f"dag_{n:04d}" for n in dags])
    return {d: r.run_id for d, r in latest.items()}


def test_fake_airflow_latest_runs_of_one_busy_dag_cost_a_second_batch_without_it(
    start_fake: Callable[[FakeAirflow], FakeAirflow],
) -> None:
    fake = start_fake(FakeAirflow(tokens=False))
    fake.route("POST", "/api/v2/dags/~/dagRuns/list", busy_batch({1: 150, 2: 3}))  # dag_0001 fills the window
    assert latest_of(fake, 1, 2, 3) == {"dag_0001": "run_1_0", "dag_0002": "run_2_0"}  # dag_0003 never ran
    assert [json.loads(s.body or b"{}")["dag_ids"] for s in fake.seen] == [
        ["dag_0001", "dag_0002", "dag_0003"],
        ["dag_0002", "dag_0003"],
    ]


def test_fake_airflow_latest_runs_of_many_busy_dags_cost_at_most_one_call_per_visible_dag(
    start_fake: Callable[[FakeAirflow], FakeAirflow],
) -> None:
    fake = start_fake(FakeAirflow(tokens=False))
    fake.route("POST", "/api/v2/dags/~/dagRuns/list", busy_batch({1: 120, 2: 110, 5: 1}))  # two full batches
    fake.route("GET", "/api/v2/dags/dag_0005/dagRuns", Reply(200, {"dag_runs": [run_json(5)], "total_entries": 1}))
    fake.route("GET", "/api/v2/dags/dag_0006/dagRuns", Reply(200, {"dag_runs": [], "total_entries": 0}))
    assert latest_of(fake, 1, 2, 5, 6) == {"dag_0001": "run_1_0", "dag_0002": "run_2_0", "dag_0005": "run_5"}
    assert [s.method + " " + s.path for s in fake.seen] == [
        "POST /api/v2/dags/~/dagRuns/list",
        "POST /api/v2/dags/~/dagRuns/list",
        "GET /api/v2/dags/dag_0005/dagRuns",
        "GET /api/v2/dags/dag_0006/dagRuns",
    ]
