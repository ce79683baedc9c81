"""The grid tab of a DAG: its newest runs as columns, its tasks (and task groups) as rows, one
cell per task and run coloured by the task instance's state.

Drawn from a bounded number of Airflow calls whatever the number of runs: the DAG's details, its
tasks, its runs (one page) and the task instances of those runs in one batch read of at most
:data:`MAX_TASK_INSTANCES` rows (100 a page), so at most ``3 + MAX_TASK_INSTANCES / 100``
requests.  A DAG with many tasks shows fewer runs than asked so that its cells fit that bound.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from console.services.dag_structure import label_of, state_counts, summary_state, tree_rows
from console.services.dag_tabs import TabPage, read_into
from console.services.server_clients import resolve_server

if TYPE_CHECKING:
    from console.airflow.client import DagRun, DagTask, TaskInstance
    from console.services.dag_reads import DagReads

#: How many runs the grid can show (``?runs=``); the first is the default.
RUN_CHOICES = (25, 50, 100)
#: The most task instances one grid reads (so at most this / 100 batch requests).
MAX_TASK_INSTANCES = 2500


@dataclass(frozen=True)
class GridCell:
    """A task (or group) in one run.  ``count`` is how many task instances it stands for (more
    than one for a mapped task or a group; 0 when the task has none in that run)."""

    run_id: str
    state: str | None
    count: int
    counts: dict[str, int]
    try_number: int | None = None
    start_date: datetime | None = None
    duration: float | None = None
    #: The task whose instance a click opens (``None`` for a group or an empty cell).
    task_id: str | None = None
    #: The map index of a cell's one task instance (-1: not mapped).
    map_index: int = -1


@dataclass(frozen=True)
class GridRow:
    node_id: str
    label: str
    depth: int
    is_group: bool
    group: str | None
    mapped: bool
    cells: list[GridCell]

    @property
    def ancestors(self) -> list[str]:
        """The groups this row is inside, outermost first (what collapsing hides it with)."""
        parts = self.node_id.split(".")
        return [".".join(parts[:i]) for i in range(1, self.depth + 1)]


@dataclass
class GridPage(TabPage):
    #: Oldest first: the newest run is the rightmost column, as in Airflow's grid.
    runs: list[DagRun] = field(default_factory=list)
    rows: list[GridRow] = field(default_factory=list)
    requested: int = RUN_CHOICES[0]
    #: Fewer runs than requested were read, to keep within MAX_TASK_INSTANCES.
    runs_limited: bool = False
    #: Some task instances were left unread (mapped tasks beyond the bound).
    truncated: bool = False


def runs_for(requested: int, task_count: int) -> int:
    """How many runs fit :data:`MAX_TASK_INSTANCES` for a DAG of ``task_count`` tasks (one at
    least, ``requested`` at most)."""
    return max(1, min(requested, MAX_TASK_INSTANCES // max(1, task_count)))


def _cell(run_id: str, instances: list[TaskInstance], task_id: str | None) -> GridCell:
    if not instances:
        return GridCell(run_id, None, 0, {})
    if len(instances) == 1 and task_id is not None:
        ti = instances[0]
        return GridCell(
            run_id,
            ti.state,
            1,
            state_counts(instances),
            ti.try_number,
            ti.start_date,
            ti.duration,
            task_id,
            ti.map_index,
        )
    starts = [ti.start_date for ti in instances if ti.start_date]
    ends = [ti.end_date for ti in instances if ti.end_date]
    span = (max(ends) - min(starts)).total_seconds() if starts and len(ends) == len(instances) else None
    return GridCell(
        run_id,
        summary_state(ti.state for ti in instances),
        len(instances),
        state_counts(instances),
        max(ti.try_number for ti in instances),
        min(starts) if starts else None,
        span,
        task_id,
    )


def build_grid(tasks: list[DagTask], runs: list[DagRun], instances: list[TaskInstance]) -> list[GridRow]:
    """The rows of the grid: one per group and task in display order, one cell per run of
    ``runs`` (in that order).  A group's cell summarises every task instance inside it."""
    by_task_run: dict[tuple[str, str], list[TaskInstance]] = defaultdict(list)
    for ti in instances:
        by_task_run[(ti.task_id, ti.run_id)].append(ti)
    tasks_by_id = {t.task_id: t for t in tasks}
    rows = []
    for node in tree_rows(tasks):
        cells = []
        for run in runs:
            if node.is_group:
                inside = [ti for m in node.members for ti in by_task_run.get((m, run.run_id), [])]
                cells.append(_cell(run.run_id, inside, None))
            else:
                cells.append(_cell(run.run_id, by_task_run.get((node.node_id, run.run_id), []), node.node_id))
        task = tasks_by_id.get(node.node_id)
        label = label_of(task) if task is not None else node.node_id.rsplit(".", 1)[-1]
        rows.append(
            GridRow(node.node_id, label, node.depth, node.is_group, node.group, bool(task and task.is_mapped), cells)
        )
    return rows


def load_grid(server_id: int, dag_id: str, requested: int) -> GridPage:
    """The grid of ``dag_id``'s newest ``requested`` runs (one of :data:`RUN_CHOICES`);
    ``not_found`` when Airflow has no such DAG, ``failure`` when it cannot answer."""
    page = GridPage(resolve_server(server_id), dag_id, requested=requested)

    def read(reads: DagReads) -> None:
        page.dag = reads.details()
        tasks = reads.tasks()
        wanted = runs_for(requested, len(tasks))
        newest = reads.runs(wanted)
        page.runs_limited = wanted < requested and len(newest) == wanted
        page.runs = list(reversed(newest))
        instances, page.truncated = reads.task_instances_of_runs(
            [r.run_id for r in newest], max_items=MAX_TASK_INSTANCES
        )
        page.rows = build_grid(tasks, page.runs, instances)

    return read_into(page, read)
