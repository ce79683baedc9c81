"""The home dashboard's service on a fake Airflow (counting calls at 100 and 1,000 DAGs, and a
server that is down or slow), its chart arithmetic, its refresh fragment and its setting."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from console.airflow.payloads import parse_dag_run
from console.config import ConfigError, DefaultConfig, validate_config
from console.extensions import db
from console.services import dashboard_charts
from tests.conftest import Auth
from tests.fakes import FakeAirflow, Reply, Seen
from tests.unit.test_dags_call_counts import ManyDags, dag_json

NOW = datetime.now(UTC).replace(tzinfo=None)


@pytest.fixture(autouse=True)
def now() -> None:
    """``NOW`` is each test's own start: the page counts the last 24 h from the time it is drawn,
    which in a long session is many minutes after this module was imported."""
    global NOW
    NOW = datetime.now(UTC).replace(tzinfo=None)


RUNS_PER_DAG = 3
SECRET = "fake-token-1"


def run_state(i: int, k: int) -> str:
    if (i + k) % 10 == 1:
        return "failed"
    if (i + k) % 25 == 2:
        return "running"
    if (i + k) % 33 == 3:
        return "queued"
    return "success"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def dash_run(i: int, k: int) -> dict[str, Any]:
    """Run ``k`` of ``dag_i``: spread over the last 7 days, the first of each within 24 h."""
    minutes = (i * 37) % (23 * 60) if k == 0 else (i * 37 + k * 1999) % (7 * 24 * 60 - 60)
    state = run_state(i, k)
    return {
        "dag_id": f"dag_{i:04d}",
        "dag_run_id": f"run_{i}_{k}",
        "state": state,
        "run_type": "scheduled",
        "logical_date": None,
        # half a minute off the minute, so no run sits on the 24-h boundary the page draws a
        # moment after NOW
        "run_after": iso(NOW - timedelta(minutes=minutes, seconds=30)),
        "duration": float((i % 7 + 1) * 10) if state in ("success", "failed") else None,
        "conf": {},
    }


class DashboardDags(ManyDags):
    """An Airflow with ``n`` DAGs, ``RUNS_PER_DAG`` runs each, and two import errors."""

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.all_runs = [dash_run(i, k) for i in range(n) for k in range(RUNS_PER_DAG)]
        self.all_runs.sort(key=lambda r: r["run_after"], reverse=True)

    def dags(self, seen: Seen) -> Reply:
        if seen.query.get("has_import_errors") == ["true"]:
            return Reply(200, {"dags": [dag_json(7)], "total_entries": 2})
        return super().dags(seen)

    def run_list(self, seen: Seen) -> Reply:
        q = seen.query
        rows = self.all_runs
        if "state" in q:
            rows = [r for r in rows if r["state"] in q["state"]]
        if "run_after_gte" in q:
            since = q["run_after_gte"][0].replace("+00:00", "Z")[:19]
            rows = [r for r in rows if r["run_after"][:19] >= since]
        offset, limit = int(q.get("offset", ["0"])[0]), min(100, int(q.get("limit", ["50"])[0]))
        return Reply(200, {"dag_runs": rows[offset : offset + limit], "total_entries": len(rows)})

    def failed_tasks(self, seen: Seen) -> Reply:
        failed = [r for r in self.all_runs if r["state"] == "failed"][:10]
        tis = [
            {
                "dag_id": r["dag_id"],
                "dag_run_id": r["dag_run_id"],
                "task_id": "boom",
                "map_index": -1,
                "state": "failed",
                "try_number": 2,
                "end_date": r["run_after"],
            }
            for r in failed
        ]
        return Reply(200, {"task_instances": tis, "total_entries": len(tis)})

    def serve(self, fake: FakeAirflow) -> FakeAirflow:
        super().serve(fake)
        healthy = {"status": "healthy"}
        fake.route(
            "GET",
            "/api/v2/monitor/health",
            Reply(200, {"metadatabase": healthy, "scheduler": healthy, "triggerer": healthy, "dag_processor": None}),
        )
        fake.route("GET", "/api/v2/version", Reply(200, {"version": "3.3.2", "git_version": None}))
        errors = [{"filename": "broken.py", "bundle_name": "dags", "stack_trace": "SyntaxError: <oops>"}]
        fake.route("GET", "/api/v2/importErrors", Reply(200, {"import_errors": errors, "total_entries": 2}))
        fake.route("GET", "/api/v2/dags/~/dagRuns", self.run_list)
        fake.route("GET", "/api/v2/dags/~/dagRuns/~/taskInstances", self.failed_tasks)
        return fake


@pytest.fixture
def dashboard_app(
    app_factory: Callable[..., Flask], start_fake: Callable[[FakeAirflow], FakeAirflow]
) -> Callable[..., tuple[Auth, list[FakeAirflow]]]:
    """An app (no cache, at most 200 runs per server) with one fake server per entry of ``dags``
    (``None``: a server that refuses connections), and a viewer signed in."""

    def make(*dags: int | None, **config: Any) -> tuple[Auth, list[FakeAirflow]]:
        from console.services import servers

        fakes = [start_fake(DashboardDags(n).serve(FakeAirflow(tokens=False))) for n in dags if n is not None]
        app = app_factory(CACHE_TYPE="NullCache", DASHBOARD_MAX_RUNS=200, **config)
        with app.app_context():
            urls = iter(f.url for f in fakes)
            for index, n in enumerate(dags):
                url = next(urls) if n is not None else "http://127.0.0.1:9"
                servers.register_server(
                    name=f"af{index}", base_url=url, username="admin", secret=SECRET, auth_kind="token"
                )
            db.session.commit()
        login = Auth(app, app.test_client())
        login("viewer")
        return login, fakes

    return make


def stat(html: str, name: str) -> str:
    match = re.search(rf'data-testid="stat-{name}">([^<]+)<', html)
    assert match, f"no stat {name}"
    return match.group(1).strip()


def charts(html: str) -> dict[str, dict[str, Any]]:
    found = re.findall(r'data-testid="chart-(\w+)" data-chart=\'([^\']+)\'', html)
    return {name: json.loads(spec.replace("&#39;", "'")) for name, spec in found}


def test_fake_airflow_dashboard_calls_do_not_grow_with_the_number_of_dags(dashboard_app) -> None:
    calls = []
    for n in (100, 1000):
        login, (fake,) = dashboard_app(n)
        assert login.client.get("/admin/").status_code == 200
        calls.append(len(fake.seen))
    # health, version, import errors, 3 DAG counts, 2 runs now, 4 runs in 24 h, failed tasks,
    # and the 200 newest runs of the week in 2 pages
    assert calls == [15, 15]


def test_fake_airflow_dashboard_counts_and_aggregates(dashboard_app) -> None:
    login, _fakes = dashboard_app(1000)
    html = login.client.get("/admin/").get_data(as_text=True)
    runs = DashboardDags(1000).all_runs
    day = iso(NOW - timedelta(hours=24))

    def in_day(state: str) -> int:
        return sum(1 for r in runs if r["state"] == state and r["run_after"] >= day)

    assert stat(html, "dags") == "1000"
    assert "800 active · 200 paused" in html
    assert stat(html, "import-errors") == "2"
    assert stat(html, "running") == str(sum(1 for r in runs if r["state"] == "running"))
    assert stat(html, "queued") == str(sum(1 for r in runs if r["state"] == "queued"))
    assert stat(html, "failed") == str(in_day("failed"))
    assert f">{in_day('success')} success</a>" in html
    # the 24 h counts lead to the Runs list of that state over the last 24 h, not to the DAG list
    last_day = re.findall(r'href="/admin/runs/\?state=(\w+)&amp;from=[^"]+" data-testid="(?:runs-24h|stat-link)', html)
    assert sorted(set(last_day)) == ["failed", "queued", "running", "success"]
    assert re.search(r'href="/admin/runs/\?state=failed&amp;from=[-\dT:%A-F]+" data-testid="stat-link-failed"', html)
    assert 'data-testid="runs-capped"' in html  # 3,000 runs, 200 charted
    drawn = charts(html)
    assert set(drawn) == {"per_hour", "per_day", "success_rate", "slowest", "most_failing"}
    assert sum(sum(d["data"]) for d in drawn["per_day"]["datasets"]) == 200
    failed_hours = drawn["per_hour"]["datasets"][1]
    hour = NOW.replace(minute=0, second=0, microsecond=0)
    assert failed_hours["links"][-1] == (
        f"/admin/runs/?state=failed&from={hour:%Y-%m-%dT%H:%M}&to={hour + timedelta(hours=1):%Y-%m-%dT%H:%M}"
    )
    assert failed_hours["link"].startswith("/admin/runs/?state=failed&from=")
    today = f"{NOW:%Y-%m-%d}"
    assert drawn["per_day"]["datasets"][1]["links"][-1] == f"/admin/runs/?state=failed&from={today}&to={today}"
    assert drawn["success_rate"]["datasets"][0]["links"][-1] == f"/admin/runs/?state=failed&from={today}&to={today}"
    failing_link = drawn["most_failing"]["datasets"][0]["links"][0]
    assert failing_link.startswith("/admin/dags/") and failing_link.endswith("/runs/?state=failed")
    assert drawn["slowest"]["datasets"][0]["links"][0].endswith("/runs/")
    assert "broken.py" in html and "SyntaxError: &lt;oops&gt;" in html
    assert "/logs/2" in html  # a recent failure links to its log


def test_fake_airflow_sees_date_filters_with_a_zone(dashboard_app) -> None:
    """Airflow 3.3 answers 500 to ``run_after_gte`` without a zone (seen on the sandbox)."""
    login, (fake,) = dashboard_app(100)
    login.client.get("/admin/")
    sent = [s.query["run_after_gte"][0] for s in fake.seen if "run_after_gte" in s.query]
    assert sent and all(datetime.fromisoformat(v).utcoffset() == timedelta(0) for v in sent), sent


def test_fake_airflow_one_down_and_one_slow_server_do_not_blank_the_dashboard(
    dashboard_app, start_fake: Callable[[FakeAirflow], FakeAirflow]
) -> None:
    login, _ = dashboard_app(100, None, DASHBOARD_DEADLINE_SECONDS=1.0)
    slow = start_fake(FakeAirflow(Reply(200, {}, delay=30), tokens=False))
    from console.services import servers

    with login.app.app_context():
        servers.register_server(name="slow", base_url=slow.url, username="admin", secret=SECRET, auth_kind="token")
        db.session.commit()
    html = login.client.get("/admin/").get_data(as_text=True)
    assert stat(html, "dags") == "100"
    cards = dict(re.findall(r'data-server="(\w+)" data-up="(\w+)"', html))
    assert cards == {"af0": "yes", "af1": "no", "slow": "no"}
    reasons = re.findall(r'data-testid="server-banner">([^<]+)<', html)
    assert reasons == ["cannot read the health: connection refused after 3 tries", "no answer within 1 s"]


def test_fake_airflow_every_server_down_shows_unknown_counts_not_zero(dashboard_app) -> None:
    login, _ = dashboard_app(None, None)
    html = login.client.get("/admin/").get_data(as_text=True)
    assert [stat(html, name) for name in ("dags", "import-errors", "running", "queued", "failed")] == ["—"] * 5
    assert 'data-testid="counts-unknown"' in html
    assert 'data-testid="runs-24h-' not in html
    assert "No import errors." not in html and "No task failed" not in html
    assert stat(html, "tasks") == "0 / 0"  # the console's own counts are known


def test_the_refresh_fragment_is_the_board_alone_and_needs_a_viewer(dashboard_app, client) -> None:
    login, _ = dashboard_app(100)
    fragment = login.client.get("/admin/board")
    assert fragment.status_code == 200
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith("<div") and 'data-testid="dash-board"' in body and "<html" not in body
    assert login.app.test_client().get("/admin/board").status_code in (302, 401)


def test_the_job_worker_shows_as_not_running_without_a_heartbeat(dashboard_app) -> None:
    login, _ = dashboard_app(100)
    html = login.client.get("/admin/").get_data(as_text=True)
    worker = re.search(r'data-testid="worker-health">(.*?)</div>', html, re.S).group(1)  # type: ignore[union-attr]
    assert "not running / no heartbeat" in worker


def run(dag: str, state: str, hours_ago: float, duration: float | None = None) -> tuple[int, str, Any]:
    raw = {
        "dag_id": dag,
        "dag_run_id": f"{dag}_{hours_ago}",
        "state": state,
        "run_type": "manual",
        "run_after": iso(NOW - timedelta(hours=hours_ago)),
        "duration": duration,
    }
    return 1, "af", parse_dag_run(raw)


def test_runs_per_hour_and_day_are_bucketed_by_state() -> None:
    runs = [run("a", "success", 0), run("a", "failed", 0.2), run("b", "failed", 5), run("b", "success", 50)]
    hourly = dashboard_charts.per_hour(runs, NOW)
    by_state = {d["label"]: d["data"] for d in hourly["datasets"]}
    assert len(hourly["labels"]) == 24
    assert sum(by_state["success"]) == 1 and sum(by_state["failed"]) == 2
    daily = {d["label"]: sum(d["data"]) for d in dashboard_charts.per_day(runs, NOW)["datasets"]}
    assert daily == {"success": 2, "failed": 2, "running": 0, "queued": 0}


def test_success_rate_is_success_over_finished_runs_per_day_and_none_without_any() -> None:
    runs = [run("a", "success", 0), run("a", "success", 0.1), run("a", "failed", 0.2), run("a", "running", 0.3)]
    rates = dashboard_charts.success_rate(runs, NOW)["datasets"][0]["data"]
    assert rates[-1] == pytest.approx(66.7) and rates[0] is None


def test_slowest_dags_rank_by_p95_and_most_failing_by_failed_runs() -> None:
    runs = [run("fast", "success", h, 10.0) for h in range(20)] + [run("fast", "success", 21, 1000.0)]
    runs += [run("slow", "failed", h, 300.0) for h in range(3)] + [run("slow", "running", 4)]
    assert dashboard_charts.p95([1.0, 2.0, 3.0, 4.0, 100.0]) == 100.0
    slowest = dashboard_charts.slowest(runs, several=False)
    assert slowest["labels"] == ["slow", "fast"] and slowest["datasets"][0]["data"] == [300.0, 10.0]
    failing = dashboard_charts.most_failing(runs, several=True)
    assert failing["labels"] == ["slow (af)"] and failing["datasets"][0]["targets"] == [
        {"server_id": 1, "dag_id": "slow", "state": "failed"}
    ]


@pytest.mark.parametrize("seconds", [0, 4, 3601])
def test_the_refresh_interval_is_validated(seconds: int) -> None:
    config = {k: getattr(DefaultConfig, k) for k in dir(DefaultConfig) if k.isupper()}
    config.update(SECRET_KEY="x" * 40, SQLALCHEMY_DATABASE_URI="sqlite://", DASHBOARD_REFRESH_SECONDS=seconds)
    with pytest.raises(ConfigError, match="DASHBOARD_REFRESH_SECONDS"):
        validate_config(config)


def test_console_side_counts_enabled_due_and_failing_tasks(app: Flask) -> None:
    from console.models import FireState, TaskRun
    from console.services import dashboard_console, servers, tasks

    now = datetime(2026, 6, 1, 12, 10)
    with app.app_context():
        server = servers.register_server(name="af", base_url="http://127.0.0.1:9", username="u", secret=SECRET)
        db.session.flush()

        def task(name: str, cron: str, enabled: bool = True) -> int:
            values = {"name": name, "server_id": server.id, "dag_id": "d", "cron": cron, "enabled": enabled}
            return tasks.create_task(values, check_dag=False).id

        due, later, off = task("due", "*/30 * * * *"), task("later", "0 5 * * *"), task("off", "* * * * *", False)
        fires = [(due, 1, FireState.FAILED), (due, 2, FireState.PENDING), (later, 1, FireState.FAILED)]
        fires += [(later, 2, FireState.SUCCESS), (off, 1, FireState.FAILED)]
        for task_id, hours_ago, state in fires:
            at = now - timedelta(hours=3 - hours_ago)
            db.session.add(TaskRun(task_id=task_id, scheduled_for=at, state=state, dag_run_id=f"r{task_id}{hours_ago}"))
        db.session.commit()
        side = dashboard_console.console_side(now, listed=10)
    assert (side.tasks_total, side.tasks_enabled, side.due_within_hour, side.failing) == (3, 2, 1, 1)
    assert [(f.task_name, f.at) for f in side.upcoming] == [
        ("due", datetime(2026, 6, 1, 12, 30)),
        ("later", now.replace(day=2, hour=5, minute=0)),
    ]
    assert side.worker is None
