"""The Runs screen (``/admin/runs/``) on fake Airflows: the merge order across two servers, the
filters Airflow is sent, the bound of one call per server per page, bad filter values (a 400,
Airflow not asked) and a down server (its banner, the other still listed)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from console.extensions import db
from tests.conftest import Auth
from tests.fakes import FakeAirflow, Reply, Seen

NOW = datetime.now(UTC).replace(microsecond=0)
SECRET = "fake-token-1"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Runs:
    """An Airflow whose runs are ``runs`` (``(dag_id, run_id, state, minutes ago)``), newest first."""

    def __init__(self, runs: list[tuple[str, str, str, int]]) -> None:
        self.rows = [
            {
                "dag_id": dag,
                "dag_run_id": run,
                "state": state,
                "run_type": "manual",
                "logical_date": None,
                "run_after": iso(NOW - timedelta(minutes=ago)),
                "duration": 5.0,
                "conf": {},
            }
            for dag, run, state, ago in sorted(runs, key=lambda r: r[3])
        ]

    def reply(self, seen: Seen) -> Reply:
        q = seen.query
        rows = self.rows
        if "state" in q:
            rows = [r for r in rows if r["state"] in q["state"]]
        if "dag_id_pattern" in q:
            rows = [r for r in rows if q["dag_id_pattern"][0].lower() in r["dag_id"].lower()]
        if "run_after_gte" in q:
            since = datetime.fromisoformat(q["run_after_gte"][0])
            rows = [r for r in rows if datetime.fromisoformat(r["run_after"]) >= since]
        offset, limit = int(q.get("offset", ["0"])[0]), min(100, int(q.get("limit", ["50"])[0]))
        return Reply(200, {"dag_runs": rows[offset : offset + limit], "total_entries": len(rows)})

    def serve(self, fake: FakeAirflow) -> FakeAirflow:
        fake.route("GET", "/api/v2/dags/~/dagRuns", self.reply)
        return fake


@pytest.fixture
def runs_app(
    app_factory: Callable[..., Flask], start_fake: Callable[[FakeAirflow], FakeAirflow]
) -> Callable[..., tuple[Auth, list[FakeAirflow]]]:
    """An app (no cache) with one fake server per entry (``None``: refuses connections), a viewer in."""

    def make(*servers: Runs | None) -> tuple[Auth, list[FakeAirflow]]:
        from console.services import servers as server_service

        fakes = [start_fake(s.serve(FakeAirflow(tokens=False))) for s in servers if s is not None]
        app = app_factory(CACHE_TYPE="NullCache")
        with app.app_context():
            urls = iter(f.url for f in fakes)
            for index, s in enumerate(servers):
                url = next(urls) if s is not None else "http://127.0.0.1:9"
                server_service.register_server(
                    name=f"af{index}", base_url=url, username="admin", secret=SECRET, auth_kind="token"
                )
            db.session.commit()
        login = Auth(app, app.test_client())
        login("viewer")
        return login, fakes

    return make


def listed(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-testid="run-row" data-server="([^"]+)" data-dag="[^"]+" data-run="([^"]+)"', html)


def two_servers() -> tuple[Runs, Runs]:
    a = Runs([("etl", "a1", "success", 1), ("etl", "a2", "failed", 30), ("report", "a3", "success", 90)])
    b = Runs([("load", "b1", "failed", 10), ("load", "b2", "success", 60)])
    return a, b


def test_fake_airflow_runs_of_two_servers_are_merged_newest_first(runs_app) -> None:
    login, _fakes = runs_app(*two_servers())
    html = login.client.get("/admin/runs/").get_data(as_text=True)
    assert listed(html) == [("af0", "a1"), ("af1", "b1"), ("af0", "a2"), ("af1", "b2"), ("af0", "a3")]
    assert "5 runs" in html
    assert '/admin/dags/1/etl/runs/a1/"' in html and 'href="/admin/dags/2/load/"' in html


def test_fake_airflow_runs_filters_are_sent_to_airflow_with_aware_dates(runs_app) -> None:
    login, fakes = runs_app(*two_servers())
    response = login.client.get("/admin/runs/?state=failed&dag=ET&run_type=manual&from=2026-01-02&to=2026-01-03")
    assert response.status_code == 200
    for fake in fakes:
        (seen,) = fake.seen
        assert seen.query["state"] == ["failed"] and seen.query["run_type"] == ["manual"]
        assert seen.query["dag_id_pattern"] == ["ET"] and seen.query["order_by"] == ["-run_after"]
        assert datetime.fromisoformat(seen.query["run_after_gte"][0]) == datetime(2026, 1, 2, tzinfo=UTC)
        assert datetime.fromisoformat(seen.query["run_after_lt"][0]) == datetime(2026, 1, 4, tzinfo=UTC)


def test_fake_airflow_failed_last_day_link_lists_only_recent_failures(runs_app) -> None:
    login, _fakes = runs_app(*two_servers())
    page = login.client.get("/admin/runs/").get_data(as_text=True)
    link = re.search(r'href="([^"]+)" data-testid="failed-last-day"', page)
    assert link
    html = login.client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert listed(html) == [("af1", "b1"), ("af0", "a2")]


def test_fake_airflow_runs_calls_one_per_server_per_page(runs_app) -> None:
    many = Runs([("etl", f"r{i}", "success", i) for i in range(120)])
    login, fakes = runs_app(many, Runs([("load", "x", "success", 5)]))
    html = login.client.get("/admin/runs/?page=4").get_data(as_text=True)
    assert [len(f.seen) for f in fakes] == [1, 1]
    assert [s.query["limit"] for s in (fakes[0].seen[0], fakes[1].seen[0])] == [["100"], ["100"]]
    assert listed(html)[0] == ("af0", "r74") and len(listed(html)) == 25
    assert 'data-testid="runs-window"' in html  # 121 runs, the newest 100 of each reachable


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("state=broken", "is not a run state"),
        ("run_type=nope", "is not a run type"),
        ("server=nowhere", "no enabled Airflow server named"),
        ("from=yesterday", "must be a date"),
        ("from=2026-02-02&to=2026-02-01", "must be before"),
        ("per_page=1000", "per_page"),
        ("page=zero", "whole number"),
        ("page=9", "narrow the filters"),
    ],
)
def test_fake_airflow_bad_run_filters_are_refused_without_asking_airflow(runs_app, query: str, message: str) -> None:
    login, fakes = runs_app(*two_servers())
    response = login.client.get(f"/admin/runs/?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert [f.seen for f in fakes] == [[], []]


def test_fake_airflow_down_server_gets_a_banner_and_the_other_is_listed(runs_app) -> None:
    login, _fakes = runs_app(None, two_servers()[1])
    html = login.client.get("/admin/runs/").get_data(as_text=True)
    assert 'data-testid="server-banner" data-server="af0"' in html
    assert "list DAG runs" in html and "~" not in html  # not "list runs of DAG '~'"
    assert listed(html) == [("af1", "b1"), ("af1", "b2")]


def test_runs_menu_entry_and_viewer_access(runs_app) -> None:
    login, _fakes = runs_app(*two_servers())
    html = login.client.get("/admin/runs/").get_data(as_text=True)
    assert 'href="/admin/runs/"' in html


def test_runs_list_needs_a_sign_in(runs_app) -> None:
    login, _fakes = runs_app(*two_servers())
    anonymous: Any = login.app.test_client()
    assert anonymous.get("/admin/runs/").status_code in (302, 401)
