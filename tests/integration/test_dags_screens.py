"""The DAG screens against the real Airflow sandbox: list, pause, trigger, run, clear, roles, a down server."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.airflow.client import AirflowClient
from console.extensions import db
from console.models import AuditEvent
from tests.conftest import sandbox_api, wait_for_run

pytestmark = pytest.mark.integration

EXAMPLES = ("example_quick", "example_fails", "example_params", "example_long", "example_large_log", "example_multi")
DOWN_URL = "http://127.0.0.1:9"


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    """The production cache type, so the cached list and its invalidation are what is tested."""
    return app_factory(CACHE_TYPE="SimpleCache")


@pytest.fixture(scope="module")
def api(airflow_sandbox: Any) -> Iterator[AirflowClient]:
    """Direct access to the sandbox, for setting up and checking what the screens did."""
    client = sandbox_api(airflow_sandbox, "sandbox-api")
    paused = {d.dag_id: d.is_paused for d in client.list_dags() if d.dag_id in EXAMPLES}
    for dag_id, was_paused in paused.items():
        if was_paused:
            client.set_paused(dag_id, False)
    yield client
    for dag_id, was_paused in paused.items():
        client.set_paused(dag_id, was_paused)


@pytest.fixture(scope="module")
def failed_run(api: AirflowClient) -> str:
    """A run of example_fails, started early (waited for by the test that needs it)."""
    return api.trigger_dag_run("example_fails", note="console integration: clear test").run_id


def register_down_server(app: Flask) -> int:
    from console.services import servers

    with app.app_context():
        server = servers.register_server(name="down", base_url=DOWN_URL, username="admin", secret="x")
        db.session.commit()
        return server.id


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def banner_servers(html: str) -> list[str]:
    return re.findall(r'data-testid="server-banner" data-server="([^"]+)"', html)


# --- list ------------------------------------------------------------------------------------


def test_list_shows_every_example_dag_with_its_server(login_as, sandbox_server, failed_run) -> None:
    client = login_as("viewer")
    html = text(client.get("/admin/dags/"))
    rows = re.findall(r'data-testid="dag-row" data-dag-id="([^"]+)" data-server="([^"]+)"', html)
    assert set(EXAMPLES) <= {dag for dag, _ in rows}
    assert {server for dag, server in rows if dag in EXAMPLES} == {"sandbox"}
    assert "Never, external triggers only" in html
    assert banner_servers(html) == []


def test_list_search_filters_and_sorting(login_as, sandbox_server) -> None:
    client = login_as("viewer")

    def dag_ids(query: str) -> list[str]:
        return re.findall(r'data-testid="dag-row" data-dag-id="([^"]+)"', text(client.get(f"/admin/dags/?{query}")))

    assert dag_ids("q=PARAMS") == ["example_params"]
    assert dag_ids("tag=failure") == ["example_fails"]
    assert dag_ids("server=sandbox&tag=etl") == ["example_multi"]
    examples = [d for d in dag_ids("tag=example&sort=dag&desc=1") if d in EXAMPLES]
    assert examples == sorted(EXAMPLES, reverse=True)
    first_page = dag_ids("tag=example&per_page=25&page=1")
    assert len(first_page) == len(EXAMPLES) + 1  # and example_daily (paused, for backfills)
    assert dag_ids("tag=example&page=99") == first_page  # a page past the end shows the last one


# --- pause, trigger, clear ---------------------------------------------------------------------


def test_pause_and_unpause_are_reflected_in_airflow(login_as, sandbox_server, api, caplog) -> None:
    login_as("operator")
    caplog.set_level(logging.INFO, logger="console.audit")
    row = re.compile(r'data-dag-id="example_multi".*?</tr>', re.S)
    assert 'data-testid="paused"' not in row.search(text(login_as.client.get("/admin/dags/"))).group(0)
    url = f"/admin/dags/{sandbox_server}/example_multi/paused"
    response = login_as.post(url, {"paused": "1"})
    assert response.status_code == 302
    assert api.get_dag("example_multi").is_paused is True
    # the cached list was dropped: the change shows at once
    assert 'data-testid="paused"' in row.search(text(login_as.client.get("/admin/dags/"))).group(0)
    html = text(login_as.client.get(f"/admin/dags/{sandbox_server}/example_multi/"))
    assert 'data-testid="paused"' in html and 'data-testid="unpause"' in html

    response = login_as.post(url, {"paused": "0"})
    assert response.status_code == 302
    assert api.get_dag("example_multi").is_paused is False

    bulk = {"action": "pause", "dag": [f"{sandbox_server}:example_multi", f"{sandbox_server}:example_quick"]}
    assert login_as.post("/admin/dags/bulk", bulk).status_code == 302
    assert api.get_dag("example_multi").is_paused and api.get_dag("example_quick").is_paused
    assert login_as.post("/admin/dags/bulk", {**bulk, "action": "unpause"}).status_code == 302
    assert not api.get_dag("example_multi").is_paused and not api.get_dag("example_quick").is_paused

    with login_as.app.app_context():
        audited = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.category == "airflow").order_by(AuditEvent.id)
        ).all()
        rows = [(a.actor, a.action, a.server_name, a.dag_id, a.succeeded) for a in audited]
    assert rows[0] == ("operator@example.com", "pause", "sandbox", "example_multi", True)
    assert sum(r[1] == "unpause" for r in rows) == 3
    assert any("operator@example.com pause" in r.getMessage() for r in caplog.records if r.name == "console.audit")


def test_trigger_example_params_through_the_form(login_as, sandbox_server, api) -> None:
    login_as("operator")
    url = f"/admin/dags/{sandbox_server}/example_params/trigger"
    form = text(login_as.client.get(url))
    for name in ("param__greeting", "param__count", "param__dry_run", "param__color", "param__ticket"):
        assert f'name="{name}"' in form
    assert 'type="number"' in form and 'max="100"' in form and "<select" in form and 'type="checkbox"' in form

    bad_json = login_as.post(url, {"use_raw_conf": "y", "raw_conf": '{"ticket": "T-1",'})
    assert bad_json.status_code == 400
    assert "Not valid JSON" in text(bad_json) and "{&#34;ticket&#34;: &#34;T-1&#34;," in text(bad_json)

    rejected = login_as.post(url, {"use_raw_conf": "y", "raw_conf": '{"ticket": "T-1", "count": "many"}'})
    assert rejected.status_code == 400
    page = text(rejected)
    assert 'data-testid="form-error"' in page and "sandbox" in page
    assert "&#34;count&#34;: &#34;many&#34;" in page  # what was typed is kept

    out_of_range = login_as.post(url, {"param__count": "500", "param__ticket": "T-1", "param__color": "red"})
    assert out_of_range.status_code == 400 and "between 1 and 100" in text(out_of_range)
    assert 'value="500"' in text(out_of_range)

    data = {
        "param__greeting": "hi from the console",
        "param__count": "7",
        "param__dry_run": "y",
        "param__color": "green",
        "param__ticket": "IT-42",
        "note": "integration test",
    }
    response = login_as.post(url, data)
    assert response.status_code == 302, text(response)[:2000]
    location = response.headers["Location"]
    run_id = re.search(r"/runs/([^/]+)/$", location).group(1)
    from urllib.parse import unquote

    run_id = unquote(run_id)
    run = api.get_dag_run("example_params", run_id)
    assert run.conf == {
        "greeting": "hi from the console",
        "count": 7,
        "dry_run": True,
        "color": "green",
        "ticket": "IT-42",
    }
    assert run.note == "integration test"
    flashed = text(login_as.client.get(location))
    assert "Triggered example_params" in flashed
    with login_as.app.app_context():
        triggers = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.category == "airflow").where(AuditEvent.action == "trigger")
        ).all()
        audited = [(a.actor, a.dag_id, a.run_id, a.succeeded) for a in sorted(triggers, key=lambda a: a.id)]
    assert audited == [  # what Airflow refused ("count": "many"), then the run it created
        ("operator@example.com", "example_params", None, False),
        ("operator@example.com", "example_params", run_id, True),
    ]

    assert wait_for_run(api, "example_params", run_id).state == "success"
    run_page = text(login_as.client.get(location))
    assert 'data-testid="run-state">success' in run_page
    assert "data-auto-refresh" not in run_page
    log_url = f"/admin/dags/{sandbox_server}/example_params/runs/{run_id}/tasks/show_params/logs/1"
    assert log_url in unquote(run_page)
    assert login_as.client.get(log_url).status_code == 200
    lines = login_as.client.get(log_url + "/lines").get_json()
    texts = [line["text"] for line in lines["lines"]]
    assert "param count = 7 (int)" in texts and "param color = 'green' (str)" in texts
    assert lines["finished"] is True and lines["state"] == "success"


def test_clear_reruns_a_failed_task(login_as, sandbox_server, api, failed_run) -> None:
    assert wait_for_run(api, "example_fails", failed_run).state == "failed"
    before = {t.task_id: t for t in api.list_task_instances("example_fails", failed_run)}
    assert before["boom"].state == "failed"
    login_as("operator")
    detail = text(
        login_as.client.get(f"/admin/dags/{sandbox_server}/example_fails/details", query_string={"run": failed_run})
    )
    assert f"Tasks of run {failed_run}" in detail and 'data-task-id="boom"' in detail
    assert 'data-testid="open-run"' in detail and 'data-testid="clear-task"' in detail
    run_url = f"/admin/dags/{sandbox_server}/example_fails/runs/{failed_run}/"
    page = text(login_as.client.get(run_url))
    assert 'data-testid="clear-task"' in page and 'data-testid="task-state">failed' in page

    response = login_as.post(run_url + "clear", {"task_id": "boom"})
    assert response.status_code == 302
    assert "Cleared task boom" in text(login_as.client.get(response.headers["Location"]))
    assert wait_for_run(api, "example_fails", failed_run).state == "failed"  # ran again, failed again
    after = {t.task_id: t for t in api.list_task_instances("example_fails", failed_run)}["boom"]
    assert (after.state, after.try_number) == ("failed", before["boom"].try_number + 1)


def test_mark_run_failed_then_success(login_as, sandbox_server, api) -> None:
    run_id = api.trigger_dag_run("example_long", note="console integration: mark").run_id
    login_as("operator")
    url = f"/admin/dags/{sandbox_server}/example_long/runs/{run_id}/mark"
    assert login_as.post(url, {"state": "failed"}).status_code == 302
    assert api.get_dag_run("example_long", run_id).state == "failed"
    assert login_as.post(url, {"state": "success"}).status_code == 302
    assert api.get_dag_run("example_long", run_id).state == "success"
    refused = login_as.post(url, {"state": "running"})
    assert refused.status_code == 302
    assert "can only be marked" in text(login_as.client.get(refused.headers["Location"]))


def test_mark_a_failed_task_instance_success(login_as, sandbox_server, api) -> None:
    run_id = api.trigger_dag_run("example_fails", note="console integration: mark task").run_id
    assert wait_for_run(api, "example_fails", run_id).state == "failed"
    login_as("operator")
    run_url = f"/admin/dags/{sandbox_server}/example_fails/runs/{run_id}/"
    page = text(login_as.client.get(run_url))
    assert 'data-testid="mark-task-success"' in page and 'data-testid="mark-task-failed"' in page

    response = login_as.post(run_url + "tasks/boom/mark", {"state": "success", "map_index": "-1"})

    assert response.status_code == 302
    assert {t.task_id: t.state for t in api.list_task_instances("example_fails", run_id)} == {"boom": "success"}
    with login_as.app.app_context():
        audited = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.category == "airflow")).all()
        rows = [(a.actor, a.user.email, a.action, a.dag_id, a.run_id, a.task_id, a.succeeded) for a in audited]
    assert rows == [
        ("operator@example.com", "operator@example.com", "mark success", "example_fails", run_id, "boom", True)
    ]
    page = text(login_as.client.get(run_url))
    assert "Marked task boom success." in page and 'data-testid="task-state">success' in page

    again = login_as.post(run_url + "tasks/boom/mark", {"state": "success"})
    assert again.status_code == 302
    assert "boom is already in success state" in text(login_as.client.get(again.headers["Location"]))


# --- roles ---------------------------------------------------------------------------------


def test_viewer_sees_no_actions_and_forged_posts_are_refused(login_as, sandbox_server, api, failed_run) -> None:
    login_as("viewer")
    client = login_as.client
    listing = text(client.get("/admin/dags/"))
    assert 'data-testid="bulk-actions"' not in listing and 'name="dag"' not in listing
    detail = text(client.get(f"/admin/dags/{sandbox_server}/example_fails/details", query_string={"run": failed_run}))
    assert 'data-testid="trigger-link"' not in detail and 'data-testid="pause"' not in detail
    assert 'data-task-id="boom"' in detail and "clear-task" not in detail
    run = text(client.get(f"/admin/dags/{sandbox_server}/example_fails/runs/{failed_run}/"))
    assert "clear-task" not in run and "mark-success" not in run and 'data-testid="log-link"' in run
    assert "mark-task-success" not in run and "mark-task-failed" not in run
    assert wait_for_run(api, "example_fails", failed_run).state == "failed"

    base = f"/admin/dags/{sandbox_server}/example_quick"
    forged = {
        "/admin/dags/bulk": {"action": "pause", "dag": f"{sandbox_server}:example_quick"},
        f"{base}/paused": {"paused": "1"},
        f"{base}/trigger": {"param__x": "1"},
        f"/admin/dags/{sandbox_server}/example_fails/runs/{failed_run}/clear": {"task_id": "boom"},
        f"/admin/dags/{sandbox_server}/example_fails/runs/{failed_run}/mark": {"state": "success"},
        f"/admin/dags/{sandbox_server}/example_fails/runs/{failed_run}/tasks/boom/mark": {"state": "success"},
    }
    for url, data in forged.items():
        assert login_as.post(url, data).status_code == 403, url
    assert client.get(f"{base}/trigger").status_code == 403
    assert api.get_dag("example_quick").is_paused is False
    assert {t.task_id: t.state for t in api.list_task_instances("example_fails", failed_run)} == {"boom": "failed"}
    with login_as.app.app_context():
        assert db.session.scalars(sa.select(AuditEvent).where(AuditEvent.category == "airflow")).all() == []


# --- a server that is down next to the sandbox ----------------------------------------------------


def test_every_screen_shows_the_sandbox_and_a_banner_for_a_down_server(app, login_as, sandbox_server, api) -> None:
    down = register_down_server(app)
    client = login_as("operator")
    done = [r for r in api.list_dag_runs("example_quick", limit=5) if r.state == "success"]
    run_id = done[0].run_id if done else api.trigger_dag_run("example_quick").run_id
    if not done:
        wait_for_run(api, "example_quick", run_id)
    base = f"/admin/dags/{sandbox_server}/example_quick"
    screens = {
        "list": ("/admin/dags/", 'data-dag-id="example_quick"'),
        "detail": (f"{base}/", 'data-testid="dag-title"'),
        "run": (f"{base}/runs/{run_id}/", 'data-testid="task-row"'),
        "trigger": (f"{base}/trigger", 'data-testid="trigger-form"'),
        "log": (f"{base}/runs/{run_id}/tasks/say_hello/logs/1", 'data-testid="log-viewer"'),
    }
    for name, (url, sandbox_data) in screens.items():
        response = client.get(url)
        html = text(response)
        assert response.status_code == 200, name
        assert sandbox_data in html, name
        assert banner_servers(html) == ["down"], name
        assert "connection refused" in html, name
    lines = client.get(f"{base}/runs/{run_id}/tasks/say_hello/logs/1/lines").get_json()
    assert any("hello from example_quick" in line["text"] for line in lines["lines"])

    on_down = client.get(f"/admin/dags/{down}/example_quick/")
    assert on_down.status_code == 200 and banner_servers(text(on_down)) == ["down"]
    assert client.get(f"/admin/dags/{down}/example_quick/trigger").status_code == 200
    down_log = client.get(f"/admin/dags/{down}/example_quick/runs/{run_id}/tasks/say_hello/logs/1/lines")
    assert down_log.status_code == 502 and "down" in down_log.get_json()["failure"]["message"]
    refused = login_as.post(f"/admin/dags/{down}/example_quick/paused", {"paused": "1"})
    assert refused.status_code == 302
    assert "connection refused" in text(client.get(refused.headers["Location"]))


def test_missing_dag_run_and_server_are_friendly_404s(login_as, sandbox_server) -> None:
    client = login_as("viewer")
    for url in (
        f"/admin/dags/{sandbox_server}/no_such_dag/",
        f"/admin/dags/{sandbox_server}/example_quick/runs/no_such_run/",
        f"/admin/dags/{sandbox_server}/example_quick/runs/no_such_run/tasks/say_hello/logs/1",
        "/admin/dags/999999/example_quick/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert 'data-testid="not-found"' in text(response), url
    lines = client.get(f"/admin/dags/{sandbox_server}/example_quick/runs/no_such_run/tasks/say_hello/logs/1/lines")
    assert lines.status_code == 404 and lines.get_json()["not_found"] is True
