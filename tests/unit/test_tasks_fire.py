"""The fire path with injected Airflow faults: record once, claim, retry with backoff, 409 = done."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from console.airflow.errors import AirflowBadRequest, AirflowConflict, AirflowNotFound, AirflowUnavailable
from console.extensions import db
from console.models import Task, TaskRun
from console.models.timeutil import utcnow
from console.services import fires, servers, tasks
from console.services.audit import SCHEDULER_ACTOR


class FakeClient:
    """Answers ``trigger_dag_run`` with the queued outcomes (an exception, or None for success)."""

    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[dict[str, Any]] = []

    def trigger_dag_run(self, dag_id: str, **kwargs: Any) -> None:
        self.calls.append({"dag_id": dag_id, **kwargs})
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome


def make_task(app: Flask, **values: Any) -> int:
    with app.app_context():
        server = servers.register_server(name="fake", base_url="http://127.0.0.1:9", username="u", secret="p")
        db.session.flush()
        task = tasks.create_task(
            {
                "name": "fire",
                "server_id": server.id,
                "dag_id": "example_quick",
                "cron": "* * * * *",
                "conf_json": '{"a": 1}',
                **values,
            },
            check_dag=False,
        )
        db.session.commit()
        return task.id


def record(task_id: int, minute: int = 0) -> int:
    fires.record_fires([fires.Fire(task_id, datetime(2026, 6, 1, 10, minute))])
    db.session.commit()
    return db.session.scalar(sa.select(sa.func.max(TaskRun.id)))  # type: ignore[return-value]


def attempt(run_id: int, client: FakeClient) -> TaskRun:
    """Claim the run (as a lane does), attempt it with ``client``, and read it back."""
    claimed = fires.claim(run_id, now=utcnow() + timedelta(days=1), hold=timedelta(seconds=1))
    assert claimed is not None
    fires.attempt(claimed, client, actor=SCHEDULER_ACTOR)
    db.session.expire_all()
    return db.session.get(TaskRun, run_id)  # type: ignore[return-value]


def test_run_ids_are_deterministic_and_differ_for_a_recreated_task() -> None:
    moment, created = datetime(2026, 3, 30, 5, 0), datetime(2026, 1, 2, 3, 4, 5, 678)
    run_id = fires.dag_run_id(7, created, moment)
    assert run_id == fires.dag_run_id(7, created, moment)
    assert run_id.startswith("console__task-7-") and run_id.endswith("__2026-03-30T05:00:00Z")
    assert fires.dag_run_id(7, created, moment.replace(microsecond=250000), "manual") == (
        fires.run_id_prefix(7, created) + "manual__2026-03-30T05:00:00.250000Z"
    )
    assert fires.dag_run_id(7, created.replace(second=6), moment) != run_id  # same id, another database


def test_a_fire_is_recorded_once(app: Flask) -> None:
    task_id = make_task(app)
    with app.app_context():
        moment = datetime(2026, 6, 1, 10, 0)
        assert fires.record_fires([fires.Fire(task_id, moment), fires.Fire(task_id, moment)]) == 1
        assert fires.record_fires([fires.Fire(task_id, moment)]) == 0
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TaskRun)) == 1


def test_only_one_claim_wins(app: Flask) -> None:
    task_id = make_task(app)
    with app.app_context():
        run_id = record(task_id)
        now, hold = utcnow(), timedelta(seconds=30)
        first = fires.claim(run_id, now=now, hold=hold)
        assert first is not None and (first.run_id, first.dag_id) == (run_id, "example_quick")
        assert first.conf_json == '{\n  "a": 1\n}'
        assert fires.claim(run_id, now=now, hold=hold) is None
        assert fires.claim(run_id, now=now + hold + timedelta(seconds=1), hold=hold) is not None  # an expired claim


def test_a_lane_claims_due_runs_of_its_server_in_batches(app: Flask) -> None:
    task_id = make_task(app)
    with app.app_context():
        ids = [record(task_id, minute) for minute in range(5)]
        server_id = db.session.get(Task, task_id).server_id
        now, hold = utcnow(), timedelta(seconds=20)
        batch = fires.claim_due(server_id, now=now, hold=hold, limit=3)
        assert [c.run_id for c in batch] == ids[:3]
        assert [c.run_id for c in fires.claim_due(server_id, now=now, hold=hold, limit=3)] == ids[3:]
        assert fires.claim_due(server_id, now=now, hold=hold, limit=3) == []
        assert fires.claim_due(server_id + 1, now=now + timedelta(hours=1), hold=hold) == []  # another server's


def test_success_sends_the_run_id_and_conf(app: Flask) -> None:
    task_id = make_task(app)
    client = FakeClient(None)
    with app.app_context():
        run = attempt(record(task_id), client)
        assert (run.state, run.attempts, run.error) == ("triggered", 1, None)
        assert run.triggered_at is not None
    with app.app_context():
        prefix = fires.run_id_prefix(task_id, db.session.get(Task, task_id).created_at)
    assert client.calls[0]["run_id"] == f"{prefix}2026-06-01T10:00:00Z"
    assert client.calls[0]["conf"] == {"a": 1}


def test_409_means_already_triggered(app: Flask) -> None:
    task_id = make_task(app)
    with app.app_context():
        run = attempt(record(task_id), FakeClient(AirflowConflict("fake", "exists", status=409)))
        assert run.state == "triggered"


def test_unavailable_is_retried_with_doubling_backoff(app: Flask) -> None:
    task_id = make_task(app, retry_backoff_seconds=10, retry_window_seconds=3600)
    down = AirflowUnavailable("fake", "cannot trigger: Airflow answered 500 Internal Server Error", status=500)
    client = FakeClient(down, down, None)
    with app.app_context():
        run_id = record(task_id)
        waits = []
        for _ in range(2):
            before = utcnow()
            run = attempt(run_id, client)
            assert run.state == "pending"
            waits.append(round((run.next_attempt_at - before).total_seconds()))
            assert "retrying" in (run.error or "") and "500" in (run.error or "")
        assert waits == [10, 20]
        run = attempt(run_id, client)
        assert (run.state, run.attempts, run.error) == ("triggered", 3, None)
    assert len({c["run_id"] for c in client.calls}) == 1  # every retry sends the same run id


def test_after_the_retry_window_the_run_fails_with_the_reason(app: Flask) -> None:
    task_id = make_task(app, retry_window_seconds=0)
    with app.app_context():
        run = attempt(record(task_id), FakeClient(AirflowUnavailable("fake", "connection refused")))
        assert run.state == "failed"
        assert run.error == "not triggered: gave up after 1 attempts in the 0 s retry window: " + (
            "Airflow server 'fake': connection refused"
        )
        assert run.finished_at is not None and run.next_attempt_at is None


@pytest.mark.parametrize("error", [AirflowBadRequest("fake", "invalid params"), AirflowNotFound("fake", "no DAG")])
def test_what_airflow_refuses_fails_at_once(app: Flask, error: Exception) -> None:
    task_id = make_task(app)
    with app.app_context():
        run = attempt(record(task_id), FakeClient(error))
        assert (run.state, run.attempts) == ("failed", 1)
        assert str(error) in (run.error or "")


def test_run_now_records_a_manual_run_and_triggers_it(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    task_id = make_task(app)
    client = FakeClient(None)
    monkeypatch.setattr(fires, "client_for", lambda server: client)
    with app.app_context():
        run = tasks.run_now(db.session.get(Task, task_id), actor="operator@example.com")
        assert (run.kind, run.state) == ("manual", "triggered")
        assert run.dag_run_id.startswith(fires.run_id_prefix(task_id, run.task.created_at) + "manual__")
    assert client.calls[0]["run_id"] == run.dag_run_id


def test_a_triggered_fire_drops_the_cached_reads_of_its_dag_only(app_factory) -> None:
    from console.services.read_cache import read_cache

    cached_app = app_factory(CACHE_TYPE="SimpleCache")
    task_id = make_task(cached_app)
    with cached_app.app_context():
        server_id = db.session.get(Task, task_id).server_id  # type: ignore[union-attr]
        store = read_cache()
        before = {dag: store.key("runs", server_id, "recent", dag) for dag in ("example_quick", "example_fails")}
        attempt(record(task_id), FakeClient(None))
        after = {dag: store.key("runs", server_id, "recent", dag) for dag in ("example_quick", "example_fails")}
    assert after["example_quick"] != before["example_quick"]  # the fired DAG has a new run
    assert after["example_fails"] == before["example_fails"]
