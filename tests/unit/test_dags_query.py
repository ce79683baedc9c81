"""The merged DAG list's search, filters, sorting and paging; the display helpers; the fan-out."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from console.admin import dag_display
from console.airflow.client import Dag, DagRun
from console.airflow.errors import AirflowUnavailable
from console.services.dag_query import DagQuery, DagRow, select_rows
from console.services.server_clients import ServerFailure, fan_out

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_dag(
    dag_id: str,
    *,
    paused: bool = False,
    tags: tuple[str, ...] = (),
    owners: tuple[str, ...] = ("ops",),
    next_run: datetime | None = None,
    description: str | None = None,
) -> Dag:
    return Dag(
        dag_id=dag_id,
        dag_display_name=dag_id.replace("_", " ").title(),
        is_paused=paused,
        is_stale=False,
        has_import_errors=False,
        description=description,
        owners=list(owners),
        tags=list(tags),
        timetable_summary=None,
        timetable_description="Never, external triggers only",
        next_dagrun_logical_date=None,
        next_dagrun_run_after=next_run,
        max_active_runs=16,
        fileloc=None,
        file_token=None,
        bundle_name=None,
    )


def make_run(dag_id: str, state: str, minutes: int) -> DagRun:
    return DagRun(
        dag_id=dag_id,
        run_id=f"manual__{minutes}",
        state=state,
        run_type="manual",
        logical_date=None,
        run_after=T0 + timedelta(minutes=minutes),
        queued_at=None,
        start_date=None,
        end_date=None,
        duration=None,
        note=None,
        conf={},
        triggered_by=None,
        triggering_user_name=None,
        dag_display_name=None,
    )


def row(server: str, dag: Dag, run: DagRun | None = None) -> DagRow:
    return DagRow({"alpha": 1, "beta": 2}[server], server, dag, run)


ROWS = [
    row("alpha", make_dag("load_sales", tags=("etl",), owners=("ana",)), make_run("load_sales", "success", 5)),
    row("alpha", make_dag("clean_up", paused=True, tags=("ops",)), make_run("clean_up", "failed", 10)),
    row("beta", make_dag("load_sales", tags=("etl", "prod")), make_run("load_sales", "running", 1)),
    row("beta", make_dag("report", description="Weekly numbers", next_run=T0 + timedelta(days=1))),
    row("beta", make_dag("backup", paused=True, owners=("zoe",)), make_run("backup", "success", 20)),
]


def ids(rows: list[DagRow]) -> list[str]:
    return [f"{r.server_name}/{r.dag.dag_id}" for r in rows]


def test_query_from_args_falls_back_to_defaults() -> None:
    args = MultiDict({"q": "  load ", "sort": "nope", "desc": "1", "page": "-3", "per_page": "7", "paused": "x"})
    query = DagQuery.from_args(args)
    assert (query.search, query.sort, query.desc, query.page, query.per_page, query.paused) == (
        "load",
        "dag",
        True,
        1,
        25,
        "",
    )
    assert DagQuery.from_args(MultiDict({"page": "abc"})).page == 1
    assert DagQuery().args() == {}
    assert DagQuery(tag="etl", page=3).args(page=1) == {"tag": "etl"}
    assert DagQuery(sort="state").sort_args("state") == {"sort": "state", "desc": "1"}
    assert DagQuery(sort="state", desc=True).sort_args("state") == {"sort": "state"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (DagQuery(search="SALES"), ["alpha/load_sales", "beta/load_sales"]),
        (DagQuery(search="weekly"), ["beta/report"]),  # description
        (DagQuery(search="zoe"), ["beta/backup"]),  # owner
        (DagQuery(server="beta", tag="etl"), ["beta/load_sales"]),
        (DagQuery(paused="paused"), ["beta/backup", "alpha/clean_up"]),
        (DagQuery(paused="active", state="success"), ["alpha/load_sales"]),
        (DagQuery(state="none"), ["beta/report"]),
    ],
)
def test_filters(query: DagQuery, expected: list[str]) -> None:
    assert ids(select_rows(ROWS, query)[0]) == expected


def test_sorting_puts_empty_values_last_both_ways() -> None:
    by_last_run = ids(select_rows(ROWS, DagQuery(sort="last_run"))[0])
    assert by_last_run == ["beta/load_sales", "alpha/load_sales", "alpha/clean_up", "beta/backup", "beta/report"]
    newest_first = ids(select_rows(ROWS, DagQuery(sort="last_run", desc=True))[0])
    assert newest_first == ["beta/backup", "alpha/clean_up", "alpha/load_sales", "beta/load_sales", "beta/report"]
    assert ids(select_rows(ROWS, DagQuery(sort="next_run"))[0])[0] == "beta/report"
    assert ids(select_rows(ROWS, DagQuery(sort="server", desc=True))[0])[:3] == [
        "beta/report",
        "beta/load_sales",
        "beta/backup",
    ]


def test_paging_over_the_merged_list() -> None:
    many = [row("alpha", make_dag(f"dag_{i:03d}")) for i in range(60)]
    page, total, number, pages = select_rows(many, DagQuery(page=2, per_page=25))
    assert (total, number, pages) == (60, 2, 3)
    assert page[0].dag.dag_id == "dag_025" and len(page) == 25
    last, _, number, _ = select_rows(many, DagQuery(page=9, per_page=25))
    assert number == 3 and [r.dag.dag_id for r in last] == [f"dag_{i:03d}" for i in range(50, 60)]
    assert select_rows([], DagQuery()) == ([], 0, 1, 1)


def test_rows_survive_the_cache_pickle() -> None:
    assert pickle.loads(pickle.dumps(ROWS)) == ROWS
    failure = ServerFailure("beta", "connection refused")
    assert pickle.loads(pickle.dumps(failure)) == failure


def test_fan_out_runs_in_parallel_and_turns_errors_and_slowness_into_failures() -> None:
    together = threading.Barrier(2)  # passes only while "a" and "d" run at the same time
    released = threading.Event()

    def hangs() -> str:
        released.wait(60)
        return "late"

    def meets(value: Any) -> Callable[[], Any]:
        return lambda: (together.wait(30), value)[1]

    def broken() -> str:
        raise AirflowUnavailable("b", "cannot list DAGs: connection refused")

    try:  # "c" hangs until released: fan_out must return without it
        out = fan_out({1: ("a", meets("ok")), 2: ("b", broken), 3: ("c", hangs), 4: ("d", meets(None))}, 2.0)
    finally:
        released.set()
    assert out[1] == "ok" and out[4] is None
    assert out[2] == ServerFailure("b", "cannot list DAGs: connection refused")
    assert out[3] == ServerFailure("c", "no answer within 2 s")
    assert fan_out({}, 1.0) == {}


def test_display_helpers() -> None:
    assert dag_display.duration(None) == "\u2014"
    assert dag_display.duration(0.25) == "250 ms"
    assert dag_display.duration(12.44) == "12.4 s"
    assert dag_display.duration(185) == "3m 05s"
    assert dag_display.duration(7265) == "2h 01m"
    assert dag_display.when(T0) == "2026-01-01 00:00:00 UTC"
    assert dag_display.ago(T0, now=T0 + timedelta(minutes=3)) == "3 min ago"
    assert dag_display.ago(T0 + timedelta(hours=2), now=T0) == "in 2 h"
    assert dag_display.badge("failed") == "state-failed"
    assert dag_display.badge(None) == "state-none"
    assert dag_display.run_type("asset_triggered") == "Asset"
    assert dag_display.pretty_json({"b": 1, "a": "<x>"}) == '{\n  "a": "<x>",\n  "b": 1\n}'
