"""The graph tab of a DAG: its tasks and dependencies, task groups as boxes, each task coloured by
its state in one selected run (the newest unless another is chosen).

Airflow calls: the DAG's details, its tasks, its newest :data:`RECENT_RUNS` runs (the run
selector), the selected run when it is not among them, and that run's task instances in one
batch read of at most :data:`~console.services.dag_grid.MAX_TASK_INSTANCES` rows; so at most
``4 + MAX_TASK_INSTANCES / 100`` requests.  The browser lays the graph out
(``static/js/dag_graph.js`` with the vendored dagre).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from console.airflow.errors import AirflowNotFound
from console.services.dag_grid import MAX_TASK_INSTANCES
from console.services.dag_structure import groups_of, label_of, parent_group, state_counts, summary_state
from console.services.dag_tabs import TabPage, read_into
from console.services.server_clients import resolve_server

if TYPE_CHECKING:
    from console.airflow.client import DagRun, DagTask, TaskInstance
    from console.services.dag_reads import DagReads

#: How many recent runs the run selector offers.
RECENT_RUNS = 25


@dataclass
class GraphPage(TabPage):
    runs: list[DagRun] = field(default_factory=list)
    selected: DagRun | None = None
    #: JSON-ready: ``{"nodes": [...], "edges": [[from, to], ...], "groups": [...]}``.
    graph: dict[str, Any] = field(default_factory=dict)
    #: The run asked for does not exist (the newest is shown instead).
    unknown_run: str | None = None


def build_graph(tasks: list[DagTask], instances: list[TaskInstance]) -> dict[str, Any]:
    """The graph as the browser draws it: one node per task (label, group, state in the
    selected run, a per-state count for a mapped task), one edge per dependency between known
    tasks, and the task groups with their parent group."""
    by_task: dict[str, list[TaskInstance]] = defaultdict(list)
    for ti in instances:
        by_task[ti.task_id].append(ti)
    known = {t.task_id for t in tasks}
    nodes = []
    for task in sorted(tasks, key=lambda t: t.task_id):
        mine = by_task.get(task.task_id, [])
        nodes.append(
            {
                "id": task.task_id,
                "label": label_of(task),
                "group": parent_group(task.task_id),
                "state": summary_state(ti.state for ti in mine) if mine else None,
                "mapped": task.is_mapped,
                "counts": state_counts(mine) if task.is_mapped else {},
                "operator": task.operator_name or "",
            }
        )
    edges = sorted((t.task_id, d) for t in tasks for d in t.downstream_task_ids if d in known)
    groups = [{"id": g, "label": g.rsplit(".", 1)[-1], "parent": parent_group(g)} for g in groups_of(known)]
    return {"nodes": nodes, "edges": [list(e) for e in edges], "groups": groups}


def load_graph(server_id: int, dag_id: str, run_id: str | None) -> GraphPage:
    """The graph of ``dag_id`` coloured by run ``run_id`` (default: the newest)."""
    page = GraphPage(resolve_server(server_id), dag_id)

    def read(reads: DagReads) -> None:
        page.dag = reads.details()
        tasks = reads.tasks()
        page.runs = reads.runs(RECENT_RUNS)
        page.selected = next((r for r in page.runs if r.run_id == run_id), None) if run_id else None
        if run_id and page.selected is None:
            try:
                page.selected = reads.run(run_id)
            except AirflowNotFound:
                page.unknown_run = run_id
        page.selected = page.selected or (page.runs[0] if page.runs else None)
        instances: list[TaskInstance] = []
        if page.selected is not None:
            instances, _ = reads.task_instances_of_runs([page.selected.run_id], max_items=MAX_TASK_INSTANCES)
        page.graph = build_graph(tasks, instances)

    return read_into(page, read)
