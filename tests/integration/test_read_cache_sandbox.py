"""The read cache against the real sandbox: a pause through the console shows at once on the
DAG list and the DAG's page while a second, unrelated server (a fake Airflow, only to count its
calls) is not asked again; and a failed run the monitor follows has its log warmed, so that
opening it makes no Airflow log call."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from console.airflow.client import AirflowClient
from console.airflow.session import AirflowSession
from console.extensions import db
from console.models import FireState, TaskRun
from console.models.timeutil import utcnow
from console.scheduler import monitor
from console.services import servers, tasks
from tests.conftest import Auth, csrf_token, sandbox_api, wait_for_run
from tests.fakes import FakeAirflow
from tests.unit.test_dags_call_counts import ManyDags

pytestmark = pytest.mark.integration

#: A generated DAG (paused at creation, never runs): pausing it changes nothing other tests see.
DAG = "generated_0042"
RUN_TIMEOUT = 240.0


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    """The production cache type, with lifetimes long enough that only a write can drop an entry."""
    return app_factory(CACHE_TYPE="SimpleCache", CACHE_SECONDS={"dag_list": 600, "dag_detail": 600, "runs": 600})


@pytest.fixture
def api(airflow_sandbox: Any) -> AirflowClient:
    return sandbox_api(airflow_sandbox, "sandbox-api")


@pytest.fixture
def airflow_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """``(server name, what)`` of every request the console sends to an Airflow, in order."""
    seen: list[tuple[str, str]] = []
    call, stream = AirflowSession.call, AirflowSession.stream

    def counting_call(self: AirflowSession, what: str, *args: Any, **kwargs: Any) -> Any:
        seen.append((self.name, what))
        return call(self, what, *args, **kwargs)

    def counting_stream(self: AirflowSession, what: str, *args: Any, **kwargs: Any) -> Any:
        seen.append((self.name, what))
        return stream(self, what, *args, **kwargs)

    monkeypatch.setattr(AirflowSession, "call", counting_call)
    monkeypatch.setattr(AirflowSession, "stream", counting_stream)
    return seen


@pytest.fixture
def other_server(app: Flask, start_fake: Callable[[FakeAirflow], FakeAirflow]) -> FakeAirflow:
    """An unrelated second server: a fake Airflow with 30 DAGs, only to count what it is asked."""
    fake = start_fake(ManyDags(30).serve(FakeAirflow(tokens=False)))
    with app.app_context():
        servers.register_server(name="other", base_url=fake.url, username="admin", secret="token", auth_kind="token")
        db.session.commit()
    return fake


@pytest.fixture
def paused_dag(api: AirflowClient) -> Iterator[str]:
    api.set_paused(DAG, True)
    yield DAG
    api.set_paused(DAG, True)


def row_of(html: str, dag_id: str) -> str:
    match = re.search(rf'data-dag-id="{dag_id}".*?</tr>', html, re.S)
    assert match, f"{dag_id} is not listed"
    return match.group(0)


def test_fake_airflow_counts_a_pause_drops_only_that_dags_and_servers_entries(
    login_as: Auth, sandbox_server: int, other_server: FakeAirflow, paused_dag: str, api: AirflowClient, airflow_calls
) -> None:
    operator = login_as("operator")
    token = csrf_token(operator, "/admin/")  # the home page: its own keys, read before counting
    listing = f"/admin/dags/?q={paused_dag}"
    page = f"/admin/dags/{sandbox_server}/{paused_dag}/"
    assert 'data-testid="paused"' in row_of(operator.get(listing).get_data(as_text=True), paused_dag)
    assert 'data-testid="unpause"' in operator.get(page).get_data(as_text=True)
    other_calls = len(other_server.seen)
    assert other_calls > 0  # the list asked both servers once

    airflow_calls.clear()
    operator.get(listing)
    operator.get(page)
    assert airflow_calls == []  # both screens came from the cache

    unpause = {"paused": "0", "csrf_token": token}
    assert operator.post(f"/admin/dags/{sandbox_server}/{paused_dag}/paused", data=unpause).status_code == 302
    assert api.get_dag(paused_dag).is_paused is False
    airflow_calls.clear()
    assert 'data-testid="paused"' not in row_of(operator.get(listing).get_data(as_text=True), paused_dag)
    html = operator.get(page).get_data(as_text=True)
    assert 'data-testid="unpause"' not in html and 'data-testid="pause"' in html
    asked = {server for server, _what in airflow_calls}
    assert asked == {"sandbox"}  # the sandbox was asked again, the unrelated server was not
    assert len(other_server.seen) == other_calls


@pytest.fixture
def failed_fire(app: Flask, sandbox_server: int, api: AirflowClient) -> tuple[int, str]:
    """A console task's fire of example_fails, triggered and finished (failed) in Airflow, that
    the monitor has not followed yet: ``(task run id, DAG run id)``."""
    if api.get_dag("example_fails").is_paused:
        api.set_paused("example_fails", False)
    with app.app_context():
        task = tasks.create_task(
            {"name": "warm logs", "server_id": sandbox_server, "dag_id": "example_fails", "cron": "0 5 * * *"},
            check_dag=False,
        )
        now = utcnow()
        run = TaskRun(
            task_id=task.id,
            scheduled_for=now,
            kind="manual",
            state=FireState.TRIGGERED,
            dag_run_id=f"console__warm-{uuid.uuid4().hex[:8]}",
            attempts=1,
            triggered_at=now,
            created_at=now - timedelta(seconds=1),
        )
        db.session.add(run)
        db.session.commit()
        ids = (run.id, run.dag_run_id)
    api.trigger_dag_run("example_fails", run_id=ids[1], note="console integration: warm the failed log")
    assert wait_for_run(api, "example_fails", ids[1], RUN_TIMEOUT).state == "failed"
    return ids


def test_the_monitor_warms_a_failed_tasks_log_so_opening_it_makes_no_log_call(
    app: Flask, login_as: Auth, sandbox_server: int, failed_fire: tuple[int, str], airflow_calls
) -> None:
    task_run_id, run_id = failed_fire
    with app.app_context():
        assert monitor.poll_once() == 1
        assert db.session.get(TaskRun, task_run_id).state == FireState.FAILED  # type: ignore[union-attr]
    warms = monitor.log_warmer().pending
    warmed = [ref for future in warms for ref in future.result(timeout=120)]
    assert [(ref.run_id, ref.task_id, ref.try_number) for ref in warmed] == [(run_id, "boom", 1)]
    log_reads = [what for _server, what in airflow_calls if what.startswith("read the log")]
    assert log_reads == [f"read the log of task 'boom' in run {run_id!r}"]  # read once, by the warmer

    airflow_calls.clear()
    viewer = login_as("viewer")
    lines = viewer.get(f"/admin/dags/{sandbox_server}/example_fails/runs/{run_id}/tasks/boom/logs/1/lines").get_json()
    assert lines["finished"] is True
    assert any("fails on purpose" in line["text"] for line in lines["lines"])
    assert [what for _server, what in airflow_calls if what.startswith("read the log")] == []
