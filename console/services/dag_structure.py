"""A DAG's shape from its task list: task groups, the order rows are shown in, and the state of
several task instances summarised as one.  Pure functions, shared by the grid and the graph.

Airflow's public API (``GET /dags/{id}/tasks``) has no task-group field; a task inside a group
has the group's id, a dot, then its own (``extract.clean``; nested groups nest the prefix), so the
groups are read from the ids.  A task id with a dot outside any group (Airflow allows it) shows
as if it were in a group.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from console.models.states import TaskInstanceState

if TYPE_CHECKING:
    from console.airflow.client import DagTask, TaskInstance


def parent_group(node_id: str) -> str | None:
    """The group a task or group is directly in (``a.b.c`` -> ``a.b``), or ``None``."""
    return node_id.rsplit(".", 1)[0] if "." in node_id else None


def label_of(task: DagTask) -> str:
    """A task's own display name, or its id without its groups' (the group row or box says those)."""
    if task.task_display_name and task.task_display_name != task.task_id:
        return task.task_display_name
    return task.task_id.rsplit(".", 1)[-1]


def groups_of(task_ids: Iterable[str]) -> list[str]:
    """Every group the tasks are in, nested ones included, parents before children."""
    found: set[str] = set()
    for task_id in task_ids:
        group = parent_group(task_id)
        while group is not None and group not in found:
            found.add(group)
            group = parent_group(group)
    return sorted(found, key=lambda g: (g.count("."), g))


def topological_order(tasks: list[DagTask]) -> list[str]:
    """Task ids upstream before downstream, ties by id (Kahn's algorithm); a task on a cycle
    (Airflow refuses those, so only a malformed answer has one) comes last, by id."""
    ids = {t.task_id for t in tasks}
    indegree = dict.fromkeys(ids, 0)
    for task in tasks:
        for down in task.downstream_task_ids:
            if down in ids:
                indegree[down] += 1
    ready = [t for t, n in indegree.items() if n == 0]
    heapq.heapify(ready)
    downstream = {t.task_id: t.downstream_task_ids for t in tasks}
    order: list[str] = []
    while ready:
        task_id = heapq.heappop(ready)
        order.append(task_id)
        for down in downstream[task_id]:
            if down in indegree:
                indegree[down] -= 1
                if indegree[down] == 0:
                    heapq.heappush(ready, down)
    placed = set(order)
    return order + sorted(ids - placed)


@dataclass(frozen=True)
class TreeRow:
    """One row of the grid's tree: a group or a task, at a depth, inside ``group`` (if any)."""

    node_id: str
    depth: int
    is_group: bool
    group: str | None
    #: For a group: every task id inside it, nested groups included.
    members: tuple[str, ...] = field(default=())


def tree_rows(tasks: list[DagTask]) -> list[TreeRow]:
    """Groups and tasks in display order: tasks in topological order, each group placed where
    its first task would be and followed by everything inside it."""
    order = topological_order(tasks)
    children: dict[str | None, list[str]] = {}
    members: dict[str, list[str]] = {}
    for task_id in order:
        node: str | None = task_id
        while node is not None:
            parent = parent_group(node)
            siblings = children.setdefault(parent, [])
            if node not in siblings:
                siblings.append(node)
            if parent is not None:
                members.setdefault(parent, []).append(task_id)
            node = parent

    rows: list[TreeRow] = []

    def walk(parent: str | None, depth: int) -> None:
        for node in children.get(parent, []):
            is_group = node in members
            rows.append(TreeRow(node, depth, is_group, parent, tuple(members.get(node, ()))))
            if is_group:
                walk(node, depth + 1)

    walk(None, 0)
    return rows


def summary_state(states: Iterable[str | None]) -> str | None:
    """The one state that stands for several task instances (:attr:`TaskInstanceState.SUMMARY_ORDER`);
    an unknown state counts as "no status"."""
    present = {s if s in TaskInstanceState._value2member_map_ else None for s in states}
    for state in TaskInstanceState.SUMMARY_ORDER:
        if state in present:
            return state
    return None


def state_counts(instances: Iterable[TaskInstance]) -> dict[str, int]:
    """How many task instances are in each state (``"none"`` for no status), most first."""
    counts = Counter(ti.state or "none" for ti in instances)
    return dict(counts.most_common())
