"""The Airflow client against a REAL Airflow 3.3.

The server is the project's sandbox (the session fixture ``airflow_sandbox``
starts it), serving the example DAGs named below:

* ``QUICK``: succeeds in seconds;
* ``FAILS``: its only task raises;
* ``PARAMS``: has at least one typed param (``Param(..., type=...)``);
* ``LARGE_LOG``: one task logging >= 50,000 lines.

"""

from __future__ import annotations

import time
import tracemalloc
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from console.airflow.client import AirflowClient, Dag, DagRun, LogLine, TaskInstance
from console.airflow.errors import AirflowBadRequest, AirflowConflict, AirflowNotFound
from tests.conftest import sandbox_api, wait_for_run

pytestmark = pytest.mark.integration

QUICK = "example_quick"
FAILS = "example_fails"
PARAMS = "example_params"
LARGE_LOG = "example_large_log"
LARGE_LOG_MIN_LINES = 50_000


@pytest.fixture(scope="module")
def airflow(airflow_sandbox: Any) -> Iterator[AirflowClient]:
    client = sandbox_api(airflow_sandbox, "integration")
    # Manual runs of a paused DAG never start: unpause, restore afterwards.
    paused = {d.dag_id: d.is_paused for d in client.list_dags() if d.dag_id in (QUICK, FAILS, PARAMS, LARGE_LOG)}
    for dag_id, was_paused in paused.items():
        if was_paused:
            client.set_paused(dag_id, False)
    yield client
    for dag_id, was_paused in paused.items():
        if was_paused:
            client.set_paused(dag_id, True)


def new_run_id(dag_id: str) -> str:
    return f"console_it__{dag_id}__{uuid.uuid4().hex[:12]}"


_finished: dict[str, DagRun] = {}


def finished_run(client: AirflowClient, dag_id: str) -> DagRun:
    """A finished run of ``dag_id``: an existing one, or a new one waited for."""
    if dag_id not in _finished:
        done = client.list_dag_runs(dag_id, limit=1, state=["success", "failed"])
        _finished[dag_id] = (
            done[0]
            if done
            else wait_for_run(client, dag_id, client.trigger_dag_run(dag_id, run_id=new_run_id(dag_id)).run_id)
        )
    return _finished[dag_id]


def test_version_and_health(airflow: AirflowClient) -> None:
    version = airflow.version()["version"]
    assert version is not None and version.startswith("3.")
    health = airflow.health()
    assert health["metadatabase"] == "healthy"
    assert health["scheduler"] == "healthy"


def test_token_is_fetched_once_and_reused(airflow: AirflowClient) -> None:
    token = airflow.session.token()
    assert token and token.count(".") == 2
    airflow.version()
    assert airflow.session.token() == token


def test_list_dags_returns_plain_dataclasses(airflow: AirflowClient) -> None:
    dags = airflow.list_dags()
    by_id = {d.dag_id: d for d in dags}
    assert {QUICK, FAILS, PARAMS, LARGE_LOG} <= set(by_id)
    quick = by_id[QUICK]
    assert isinstance(quick, Dag)
    assert isinstance(quick.tags, list) and all(isinstance(t, str) for t in quick.tags)
    assert quick.to_dict()["dag_id"] == QUICK
    assert [d.dag_id for d in airflow.list_dags(search=QUICK.upper())] == [QUICK]


def test_dag_details_include_raw_params(airflow: AirflowClient) -> None:
    details = airflow.get_dag_details(PARAMS)
    assert details.dag_id == PARAMS
    assert details.params, "the PARAMS DAG must declare params"
    for spec in details.params.values():
        assert "value" in spec and "schema" in spec
    with pytest.raises(AirflowNotFound):
        airflow.get_dag_details("no_such_dag_" + uuid.uuid4().hex[:8])


def test_pause_and_unpause(airflow: AirflowClient) -> None:
    try:
        assert airflow.set_paused(QUICK, True).is_paused is True
        assert QUICK in {d.dag_id for d in airflow.list_dags(paused=True)}
    finally:
        assert airflow.set_paused(QUICK, False).is_paused is False
    assert QUICK not in {d.dag_id for d in airflow.list_dags(paused=True)}


def test_trigger_with_deterministic_run_id_then_409_on_repeat(airflow: AirflowClient) -> None:
    run_id = new_run_id(QUICK)
    run = airflow.trigger_dag_run(QUICK, run_id=run_id, conf={}, note="console integration test")
    assert isinstance(run, DagRun)
    assert (run.dag_id, run.run_id, run.run_type) == (QUICK, run_id, "manual")
    assert run.state == "queued"  # a new run is created queued
    assert run.run_after is not None and run.run_after.tzinfo is not None
    with pytest.raises(AirflowConflict) as info:
        airflow.trigger_dag_run(QUICK, run_id=run_id)
    assert run_id in str(info.value)
    done = wait_for_run(airflow, QUICK, run_id)
    assert done.state == "success"
    # the run's times as Airflow reports them, in order (not how long it took)
    assert done.duration is not None and done.start_date is not None and done.end_date is not None
    assert done.start_date <= done.end_date
    assert done.note == "console integration test"
    _finished[QUICK] = done


def test_list_dag_runs_for_all_dags_newest_first(airflow: AirflowClient) -> None:
    quick = finished_run(airflow, QUICK)
    runs = airflow.list_dag_runs("~", limit=10)
    assert runs and all(isinstance(r, DagRun) for r in runs)
    afters = [r.run_after for r in runs if r.run_after is not None]
    assert afters == sorted(afters, reverse=True)
    assert quick.run_id in {r.run_id for r in airflow.list_dag_runs(QUICK, limit=100, order_by="-run_after")}


def test_task_instances_and_log_of_a_quick_run(airflow: AirflowClient) -> None:
    run = finished_run(airflow, QUICK)
    tis = airflow.list_task_instances(QUICK, run.run_id)
    assert tis and all(isinstance(t, TaskInstance) for t in tis)
    ti = tis[0]
    assert ti.state == "success" and ti.try_number >= 1
    page = airflow.get_log(QUICK, run.run_id, ti.task_id, ti.try_number, map_index=ti.map_index)
    assert page.lines and all(isinstance(line, LogLine) for line in page.lines)
    assert any(line.level == "info" and line.timestamp is not None for line in page.lines)


def test_failed_run_clear_dry_run_and_mark_success(airflow: AirflowClient) -> None:
    run = wait_for_run(airflow, FAILS, airflow.trigger_dag_run(FAILS, run_id=new_run_id(FAILS)).run_id)
    assert run.state == "failed"
    failed = [t for t in airflow.list_task_instances(FAILS, run.run_id) if t.state == "failed"]
    assert failed
    would_clear = airflow.clear_task_instances(FAILS, run_id=run.run_id, only_failed=True, dry_run=True)
    assert {t.task_id for t in would_clear} == {t.task_id for t in failed}
    assert airflow.get_dag_run(FAILS, run.run_id).state == "failed"  # a dry run changes nothing
    marked = airflow.set_dag_run_state(FAILS, run.run_id, "success")
    assert marked.state == "success"


def test_trigger_with_invalid_params_raises_bad_request_with_airflow_message(airflow: AirflowClient) -> None:
    params: dict[str, Any] = airflow.get_dag_details(PARAMS).params
    typed = [
        (name, spec["schema"]["type"])
        for name, spec in params.items()
        if isinstance(spec.get("schema"), dict) and isinstance(spec["schema"].get("type"), str)
    ]
    assert typed, f"{PARAMS} needs a typed param"
    name, kind = typed[0]
    wrong: Any = 5 if kind == "object" else {"not": "valid"}
    with pytest.raises(AirflowBadRequest) as info:
        airflow.trigger_dag_run(PARAMS, run_id=new_run_id(PARAMS), conf={name: wrong})
    assert name in info.value.reason
    assert "Traceback" not in str(info.value)


def test_iter_log_lines_streams_a_big_log(airflow: AirflowClient) -> None:
    run = finished_run(airflow, LARGE_LOG)
    assert run.state == "success"
    ti = airflow.list_task_instances(LARGE_LOG, run.run_id)[0]
    tracemalloc.start()
    try:
        started = time.monotonic()
        count = 0
        with_timestamp = 0
        sample: LogLine | None = None
        # The first byte comes only once Airflow has read the whole log file
        # (seconds on a busy machine): allow more than the default 10 s.
        with airflow.iter_log_lines(LARGE_LOG, run.run_id, ti.task_id, ti.try_number, read_timeout=60) as lines:
            for line in lines:
                count += 1
                with_timestamp += line.timestamp is not None
                if count == 1000:
                    sample = line
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count >= LARGE_LOG_MIN_LINES
    assert with_timestamp >= LARGE_LOG_MIN_LINES
    assert sample is not None and isinstance(sample.event, str) and sample.level
    # The whole answer is ~18 MB of JSON; streaming holds a chunk at a time.
    assert peak < 8_000_000, f"peak {peak / 1e6:.1f} MB while streaming"
    print(f"streamed {count} lines in {elapsed:.1f} s, peak {peak / 1e6:.2f} MB")
