"""A DAG's tabs without Airflow: the grid's rows and cells (groups, mapped tasks), the graph's
data, the runs tab's filters, and the code tab's highlighting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from console.admin.source_code import highlighted, stylesheet
from console.airflow.client import DagRun, DagTask, TaskInstance
from console.services.dag_graph import build_graph
from console.services.dag_grid import build_grid, runs_for
from console.services.dag_structure import summary_state, tree_rows
from console.services.dag_tabs import RunQuery

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def task(task_id: str, downstream: tuple[str, ...] = (), mapped: bool = False) -> DagTask:
    return DagTask(task_id, None, list(downstream), mapped, "@task")


def run(run_id: str) -> DagRun:
    return DagRun("d", run_id, "success", "manual", None, T0, None, T0, None, None, None, {}, None, None, None)


def ti(task_id: str, run_id: str, state: str | None, map_index: int = -1, minutes: int = 0) -> TaskInstance:
    start = T0 + timedelta(minutes=minutes)
    return TaskInstance(
        "d", run_id, task_id, None, map_index, state, 1, 0, start, start + timedelta(minutes=1), 60.0,
        None, None, None, None,
    )  # fmt: skip


TASKS = [
    task("start", ("etl.extract",)),
    task("etl.extract", ("etl.fan",)),
    task("etl.fan", ("end",), mapped=True),
    task("end"),
]


def test_grid_rows_follow_the_dependencies_with_each_group_before_its_tasks() -> None:
    rows = build_grid(TASKS, [run("r1")], [])
    assert [(r.node_id, r.depth, r.is_group) for r in rows] == [
        ("start", 0, False),
        ("etl", 0, True),
        ("etl.extract", 1, False),
        ("etl.fan", 1, False),
        ("end", 0, False),
    ]
    assert rows[2].ancestors == ["etl"] and rows[2].label == "extract"


def test_grid_summarises_a_mapped_task_and_a_group_with_counts_per_state() -> None:
    instances = [
        ti("etl.extract", "r1", "success"),
        ti("etl.fan", "r1", "success", 0, minutes=1),
        ti("etl.fan", "r1", "failed", 1, minutes=2),
        ti("etl.fan", "r1", "success", 2, minutes=3),
    ]
    rows = {r.node_id: r for r in build_grid(TASKS, [run("r1")], instances)}
    fan = rows["etl.fan"].cells[0]
    assert rows["etl.fan"].mapped and fan.count == 3 and fan.counts == {"success": 2, "failed": 1}
    assert fan.state == "failed" and fan.task_id == "etl.fan"
    assert fan.duration == 180.0  # first start to last end
    group = rows["etl"].cells[0]
    assert (group.state, group.count, group.counts, group.task_id) == ("failed", 4, {"success": 3, "failed": 1}, None)
    assert rows["start"].cells[0].count == 0 and rows["start"].cells[0].state is None


def test_grid_cells_follow_the_runs_order() -> None:
    rows = build_grid([task("a")], [run("old"), run("new")], [ti("a", "new", "running"), ti("a", "old", "success")])
    assert [(c.run_id, c.state) for c in rows[0].cells] == [("old", "success"), ("new", "running")]


def test_runs_for_keeps_the_grid_within_its_task_instance_bound() -> None:
    assert runs_for(25, 4) == 25
    assert runs_for(100, 200) == 12
    assert runs_for(25, 100_000) == 1


def test_summary_state_prefers_failures_and_reads_unknown_states_as_no_status() -> None:
    assert summary_state(["success", "upstream_failed", "running"]) == "upstream_failed"
    assert summary_state(["success", "skipped"]) == "skipped"
    assert summary_state(["success", "from_the_future"]) is None


def test_nested_groups_are_rows_inside_rows() -> None:
    rows = tree_rows([task("a.b.c"), task("a.d")])
    assert [(r.node_id, r.depth, r.members) for r in rows] == [
        ("a", 0, ("a.b.c", "a.d")),
        ("a.b", 1, ("a.b.c",)),
        ("a.b.c", 2, ()),
        ("a.d", 1, ()),
    ]


def test_graph_has_a_node_per_task_its_edges_and_its_groups() -> None:
    graph = build_graph(
        [*TASKS, task("stray", ("gone",))], [ti("etl.fan", "r1", "failed", 0), ti("start", "r1", "success")]
    )
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert set(nodes) == {"start", "etl.extract", "etl.fan", "end", "stray"}
    assert graph["edges"] == [["etl.extract", "etl.fan"], ["etl.fan", "end"], ["start", "etl.extract"]]
    assert graph["groups"] == [{"id": "etl", "label": "etl", "parent": None}]
    assert nodes["etl.fan"]["group"] == "etl" and nodes["etl.fan"]["counts"] == {"failed": 1}
    assert nodes["start"]["state"] == "success" and nodes["end"]["state"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"state": "exploded"}, "Unknown run state 'exploded'"),
        ({"run_type": "sideways"}, "Unknown run type 'sideways'"),
        ({"from": "yesterday"}, "From date 'yesterday' is not a date"),
        ({"to": "2026-02-30"}, "To date '2026-02-30' is not a date"),
        ({"from": "2026-02-02", "to": "2026-02-01"}, "The from date is after the to date."),
        ({"page": "0"}, "Page '0' is not a page number"),
        ({"page": "-1"}, "Page '-1' is not a page number"),
    ],
)
def test_runs_query_refuses_bad_filters_with_a_message(args: dict[str, str], message: str) -> None:
    _, errors = RunQuery.from_args(args)
    assert len(errors) == 1 and errors[0].startswith(message)


def test_runs_query_turns_dates_into_a_run_after_range_of_whole_days() -> None:
    query, errors = RunQuery.from_args(
        {"state": "failed", "run_type": "manual", "from": "2026-01-01", "to": "2026-01-31"}
    )
    flt = query.run_filter()
    assert errors == [] and (flt.state, flt.run_type) == ("failed", "manual")
    assert (flt.run_after_gte, flt.run_after_lt) == (T0, datetime(2026, 2, 1, tzinfo=UTC))
    assert query.args(page=2) == {
        "state": "failed",
        "run_type": "manual",
        "from": "2026-01-01",
        "to": "2026-01-31",
        "page": 2,
    }


def test_highlighted_source_escapes_markup_and_numbers_each_line() -> None:
    html = str(highlighted('x = "<script>alert(1)</script>"\n\ny = 2\n'))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count('<span class="ln">') == 3


def test_source_code_stylesheet_is_the_generated_one() -> None:
    css = Path(__file__).resolve().parents[2] / "console" / "static" / "source_code.css"
    assert css.read_text() == stylesheet()
