"""One DAG's reads for its tabs (grid, graph, code, runs), through the read cache.

Each read is keyed by the DAG (so a write to it through the console drops them all) and kept for
its kind's lifetime: details, tasks and source as ``dag_detail``; runs and task instances as
``runs``, kept only briefly while any of them is still running."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from console.models.states import DagRunState, TaskInstanceState
from console.services.read_cache import cached

if TYPE_CHECKING:
    from collections.abc import Callable

    from console.airflow.client import (
        AirflowClient,
        DagDetails,
        DagRun,
        DagSource,
        DagTask,
        RunFilter,
        RunsPage,
        TaskInstance,
    )

_FINAL = {*DagRunState.FINAL, *TaskInstanceState.FINAL}


def settled(answer: Any) -> bool:
    """Whether nothing in ``answer`` (a run, a page of runs, task instances) can still change by itself."""
    if isinstance(answer, tuple):
        answer = answer[0]
    items = getattr(answer, "runs", answer)
    items = items if isinstance(items, list) else [items]
    return all(getattr(item, "state", None) in _FINAL for item in items)


@dataclass(frozen=True)
class DagReads:
    """The reads of ``dag_id`` on server ``server_id`` (through ``client``), cached."""

    server_id: int
    client: AirflowClient
    dag_id: str

    def _static(self, what: str, loader: Callable[[], Any]) -> Any:
        return cached("dag_detail", self.server_id, (what, self.dag_id), loader, dag_id=self.dag_id)

    def _changing(self, query: tuple[object, ...], loader: Callable[[], Any]) -> Any:
        return cached("runs", self.server_id, (self.dag_id, *query), loader, dag_id=self.dag_id, settled=settled)

    def details(self) -> DagDetails:
        result: DagDetails = self._static("details", partial(self.client.get_dag_details, self.dag_id))
        return result

    def tasks(self) -> list[DagTask]:
        result: list[DagTask] = self._static("tasks", partial(self.client.dag_tasks, self.dag_id))
        return result

    def source(self) -> DagSource:
        result: DagSource = self._static("source", partial(self.client.dag_source, self.dag_id))
        return result

    def runs(self, limit: int) -> list[DagRun]:
        loader = partial(self.client.list_dag_runs, self.dag_id, limit=limit)
        result: list[DagRun] = self._changing(("runs", limit), loader)
        return result

    def run(self, run_id: str) -> DagRun:
        result: DagRun = self._changing(("run", run_id), partial(self.client.get_dag_run, self.dag_id, run_id))
        return result

    def runs_page(self, run_filter: RunFilter, limit: int, offset: int) -> RunsPage:
        loader = partial(self.client.dag_runs_page, self.dag_id, run_filter, limit=limit, offset=offset)
        result: RunsPage = self._changing(("page", repr(run_filter), limit, offset), loader)
        return result

    def task_instances_of_runs(self, run_ids: list[str], max_items: int) -> tuple[list[TaskInstance], bool]:
        loader = partial(self.client.task_instances_of_runs, self.dag_id, run_ids, max_items=max_items)
        result: tuple[list[TaskInstance], bool] = self._changing(("tis", tuple(run_ids), max_items), loader)
        return result
