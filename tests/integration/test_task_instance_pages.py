"""The run page (note, who triggered), the task-instance page (tries, XComs, clear with a dry run)
and the cross-server Task instances list, against the real Airflow sandbox."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from html import unescape
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.airflow.client import AirflowClient
from console.extensions import db
from console.models import AuditEvent, Job
from tests.conftest import sandbox_api, wait_for_run, wait_until

pytestmark = pytest.mark.integration

DAGS = ("example_multi", "example_quick")
DOWNSTREAM = {"extract", "transform_a", "transform_b", "load"}
DOWN_URL = "http://127.0.0.1:9"


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory(CACHE_TYPE="SimpleCache")


@pytest.fixture(scope="module")
def api(airflow_sandbox: Any) -> Iterator[AirflowClient]:
    client = sandbox_api(airflow_sandbox, "sandbox-api")
    paused = {d.dag_id: d.is_paused for d in client.list_dags() if d.dag_id in DAGS}
    for dag_id, was_paused in paused.items():
        if was_paused:
            client.set_paused(dag_id, False)
    yield client
    for dag_id, was_paused in paused.items():
        client.set_paused(dag_id, was_paused)


@pytest.fixture(scope="module")
def multi_run(api: AirflowClient) -> str:
    """A finished run of example_multi (extract -> transform_a, transform_b -> load)."""
    run_id = api.trigger_dag_run("example_multi", conf={"why": "task-instance pages"}).run_id
    assert wait_for_run(api, "example_multi", run_id).state == "success"
    return run_id


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def ti_url(server_id: int, run_id: str, task_id: str, dag_id: str = "example_multi") -> str:
    return f"/admin/dags/{server_id}/{dag_id}/runs/{run_id}/tasks/{task_id}"


def events(app: Flask, action: str, run_id: str) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.run_id == run_id)
            .order_by(AuditEvent.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


# --- the task-instance page ----------------------------------------------------------------


def test_task_instance_page_shows_tries_xcom_and_rendered_fields(login_as, sandbox_server, multi_run) -> None:
    client = login_as("viewer")
    response = client.get(ti_url(sandbox_server, multi_run, "extract") + "/")
    html = text(response)
    assert response.status_code == 200, html[:500]
    assert re.findall(r'data-testid="try-row" data-try="(\d+)"', html) == ["1"]
    assert 'data-testid="ti-state">success<' in html
    assert f"/runs/{multi_run}/tasks/extract/logs/1" in html
    row = re.search(r'data-testid="xcom-row" data-key="return_value">.*?</tr>', html, re.S)
    assert row is not None, "extract's return value is shown"
    value = re.search(r'data-testid="xcom-value">(.*?)</pre>', row.group(0), re.S)
    assert value is not None and json.loads(value.group(1)) == [1, 2, 3, 4]
    assert 'data-testid="ti-actions"' not in html and 'data-testid="clear-card"' not in html
    transform = text(client.get(ti_url(sandbox_server, multi_run, "transform_a") + "/"))
    assert re.search(r'data-testid="xcom-value">10</pre>', transform)


def test_large_xcom_is_cut_with_a_download(app, login_as, sandbox_server, multi_run) -> None:
    client = login_as("viewer")
    app.config["XCOM_PREVIEW_CHARS"] = 3
    html = text(client.get(ti_url(sandbox_server, multi_run, "extract") + "/"))
    assert 'data-testid="xcom-download"' in html
    got = client.get(ti_url(sandbox_server, multi_run, "extract") + "/xcom?key=return_value")
    assert got.status_code == 200 and "attachment" in got.headers["Content-Disposition"]
    assert json.loads(got.get_data(as_text=True)) == [1, 2, 3, 4]
    assert client.get(ti_url(sandbox_server, multi_run, "extract") + "/xcom?key=nope").status_code == 404


def test_unknown_task_instance_is_a_404_with_a_message(login_as, sandbox_server, multi_run) -> None:
    response = login_as("viewer").get(ti_url(sandbox_server, multi_run, "no_such_task") + "/")
    assert response.status_code == 404
    assert "There is no task instance" in text(response)


def test_grid_cells_open_the_task_instance_page(login_as, sandbox_server, multi_run) -> None:
    html = text(login_as("viewer").get(f"/admin/dags/{sandbox_server}/example_multi/"))
    assert f'href="/admin/dags/{sandbox_server}/example_multi/runs/{multi_run}/tasks/extract/"' in html


def test_marked_failed_then_cleared_with_downstream(app, login_as, sandbox_server, api, multi_run) -> None:
    login_as("operator")
    base = ti_url(sandbox_server, multi_run, "extract")
    marked = login_as.post(
        f"/admin/dags/{sandbox_server}/example_multi/runs/{multi_run}/tasks/extract/mark",
        {"state": "failed", "next": base + "/"},
    )
    assert marked.status_code == 302 and marked.headers["Location"].endswith(base + "/")
    states = {ti.task_id: ti for ti in api.list_task_instances("example_multi", multi_run)}
    assert states["extract"].state == "failed"

    preview = login_as.post(base + "/clear", {"downstream": "1"})
    html = text(preview)
    assert preview.status_code == 200, html[:500]
    assert set(re.findall(r'data-testid="dry-run-row" data-task-id="([^"]+)"', html)) == DOWNSTREAM
    assert {ti.task_id: ti.try_number for ti in api.list_task_instances("example_multi", multi_run)} == {
        t: 1 for t in DOWNSTREAM
    }, "the dry run changes nothing"

    done = login_as.post(base + "/clear", {"downstream": "1", "confirm": "1"})
    assert done.status_code == 302
    wait_until(
        lambda: all(ti.try_number == 2 for ti in api.list_task_instances("example_multi", multi_run)),
        120,
        "the cleared task instances to be queued again",
    )
    assert wait_for_run(api, "example_multi", multi_run).state == "success"
    cleared = events(app, "clear", multi_run)
    assert cleared and cleared[-1].task_id == "extract" and cleared[-1].outcome == "success"
    assert json.loads(cleared[-1].detail)["downstream"] is True
    assert events(app, "mark failed", multi_run)[-1].actor == "operator@example.com"


# --- the run page --------------------------------------------------------------------------


def test_run_note_round_trip_is_audited(app, login_as, sandbox_server, api, multi_run) -> None:
    login_as("operator")
    url = f"/admin/dags/{sandbox_server}/example_multi/runs/{multi_run}"
    api_before = api.get_dag_run("example_multi", multi_run).note
    assert login_as.post(url + "/note", {"note": "looked at <b>this</b>"}).status_code == 302
    assert api.get_dag_run("example_multi", multi_run).note == "looked at <b>this</b>"
    html = text(login_as.client.get(url + "/"))
    assert "looked at &lt;b&gt;this&lt;/b&gt;" in html
    assert '"why": "task-instance pages"' in unescape(html) and 'data-testid="run-type"' in html
    note = events(app, "note", multi_run)[-1]
    detail = json.loads(note.detail)
    assert (detail["before"], detail["after"]) == (api_before, "looked at <b>this</b>")
    assert note.object_type == "dag_run" and note.actor == "operator@example.com"
    too_long = login_as.post(url + "/note", {"note": "x" * 1001}, follow_redirects=True)
    assert "at most 1000 characters" in text(too_long)


def test_run_page_says_who_triggered_a_console_run(app, login_as, sandbox_server, api) -> None:
    from console.services import dag_actions

    login_as("operator")
    with app.app_context():
        run = dag_actions.trigger("operator@example.com", sandbox_server, "example_quick")
    try:
        html = text(login_as.client.get(f"/admin/dags/{sandbox_server}/example_quick/runs/{run.run_id}/"))
        origin = re.search(r'data-testid="run-origin">(.*?)</dd>', html, re.S)
        assert origin is not None and "operator@example.com" in origin.group(1)
        assert (
            f"object_type=dag_run&amp;object_id=example_quick%2F{run.run_id.replace(':', '%3A').replace('+', '%2B')}"
            in html
        )
    finally:
        wait_for_run(api, "example_quick", run.run_id)


# --- the Task instances list ---------------------------------------------------------------


def test_task_instance_list_filters_by_state_and_server(login_as, sandbox_server, multi_run) -> None:
    client = login_as("viewer")
    html = text(client.get("/admin/task-instances/?state=success&server=sandbox&dag=example_multi"))
    rows = re.findall(
        r'data-testid="ti-row" data-server="([^"]+)" data-dag="([^"]+)" data-run="([^"]+)" '
        r'data-task="([^"]+)" data-state="([^"]+)"',
        html,
    )
    assert rows and {(s, d, st) for s, d, _r, _t, st in rows} == {("sandbox", "example_multi", "success")}
    assert 'data-testid="ti-select"' not in html
    none = text(client.get("/admin/task-instances/?state=up_for_reschedule&dag=example_multi"))
    assert 'data-testid="no-tis"' in none
    bad = client.get("/admin/task-instances/?state=bogus")
    assert bad.status_code == 400 and "is not a task state" in text(bad)
    assert client.get("/admin/task-instances/?server=nowhere").status_code == 400


@pytest.mark.parametrize("inline_max", [5, 1], ids=["inline", "job"])
def test_bulk_clear_of_two_selected(app, login_as, sandbox_server, api, multi_run, inline_max) -> None:
    app.config["TI_CLEAR_INLINE_MAX"] = inline_max
    login_as("operator")
    wait_for_run(api, "example_multi", multi_run)
    html = text(login_as.client.get("/admin/task-instances/?dag=example_multi&server=sandbox"))
    keys = [json.loads(unescape(k)) for k in re.findall(r'name="ti" value="([^"]+)"', html)]
    chosen = [k for k in keys if k[2] == multi_run and k[3] in ("transform_a", "transform_b")]
    assert len(chosen) == 2
    tries = {ti.task_id: ti.try_number for ti in api.list_task_instances("example_multi", multi_run)}
    clearing_before = len(events(app, "clear", multi_run))
    response = login_as.post("/admin/task-instances/clear", {"ti": [json.dumps(k) for k in chosen]})
    assert response.status_code == 302
    after = events(app, "clear", multi_run)[clearing_before:]
    assert sorted(e.task_id for e in after) == ["transform_a", "transform_b"]
    if inline_max == 1:
        assert "/admin/jobs/" in response.headers["Location"]
        with app.app_context():
            job = db.session.scalars(sa.select(Job).order_by(Job.id.desc())).first()
            assert job.kind == "clear_task_instances" and job.state == "succeeded" and job.done == 2
    wait_until(
        lambda: all(
            ti.try_number == tries[ti.task_id] + 1
            for ti in api.list_task_instances("example_multi", multi_run)
            if ti.task_id in ("transform_a", "transform_b")
        ),
        120,
        "the two cleared task instances to be queued again",
    )
    wait_for_run(api, "example_multi", multi_run)


# --- roles and failures --------------------------------------------------------------------


def test_viewer_gets_403_on_every_new_post(login_as, sandbox_server, multi_run) -> None:
    login_as("viewer")
    run = f"/admin/dags/{sandbox_server}/example_multi/runs/{multi_run}"
    for url, data in (
        (run + "/note", {"note": "x"}),
        (run + "/tasks/extract/clear", {"downstream": "1"}),
        (run + "/tasks/extract/clear", {"confirm": "1"}),
        (run + "/tasks/extract/mark", {"state": "failed"}),
        (
            "/admin/task-instances/clear",
            {"ti": json.dumps([sandbox_server, "example_multi", multi_run, "extract", -1])},
        ),
    ):
        assert login_as.post(url, data).status_code == 403, url


def test_down_server_is_a_clear_message_not_a_500(app, login_as) -> None:
    from console.services import servers

    with app.app_context():
        server = servers.register_server(name="down", base_url=DOWN_URL, username="admin", secret="x")
        db.session.commit()
        sid = server.id
    client = login_as("viewer")
    page = client.get(ti_url(sid, "manual__1", "extract") + "/")
    assert page.status_code == 502 and 'data-testid="server-banner"' in text(page)
    listing = client.get("/admin/task-instances/")
    assert listing.status_code == 200 and 'data-server="down"' in text(listing)
