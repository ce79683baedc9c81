"""Bounded reads for the tabs of one DAG: its tasks, its source, a filtered page of its runs, and
the task instances of many of its runs in one batch.

A part of :class:`~console.airflow.client.AirflowClient`.  Contract: every method makes a number
of requests fixed by its arguments (one, or ``ceil(max_items / 100)`` for the batch), never by
how many runs or task instances the DAG has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.airflow.payloads import (
    DagRun,
    TaskInstance,
    _dict,
    _obool,
    _oint,
    _ostr,
    _Plain,
    _str,
    _strlist,
    parse_dag_run,
    parse_page,
    parse_task_instance,
)
from console.airflow.summaries import _aware

if TYPE_CHECKING:
    from console.airflow.session import AirflowSession

#: The v2 API never returns more than this many rows per page.
BATCH_PAGE = 100


@dataclass(frozen=True, slots=True)
class DagTask(_Plain):
    """One task of a DAG as ``GET /dags/{id}/tasks`` describes it.  Airflow's public API has no
    task-group field: a task in a group has the group's id and a dot before its own
    (``group.task``), which is how the console finds the groups."""

    task_id: str
    task_display_name: str | None
    downstream_task_ids: list[str]
    is_mapped: bool
    operator_name: str | None


@dataclass(frozen=True, slots=True)
class DagSource(_Plain):
    """The DAG's file as Airflow stored it when it last parsed it."""

    dag_id: str
    content: str | None
    version_number: int | None


@dataclass(frozen=True)
class RunFilter:
    """What Airflow itself filters ``GET /dags/{id}/dagRuns`` by; ``None`` means no filter."""

    state: str | None = None
    run_type: str | None = None
    run_after_gte: datetime | None = None
    run_after_lt: datetime | None = None
    #: A case-insensitive substring of the DAG id (for ``dag_id="~"``, runs of every DAG).
    dag_id_pattern: str | None = None

    def params(self) -> dict[str, Any]:
        extra = {"dag_id_pattern": self.dag_id_pattern} if self.dag_id_pattern else {}
        return {
            "state": [self.state] if self.state else None,
            "run_type": [self.run_type] if self.run_type else None,
            "run_after_gte": _aware(self.run_after_gte),
            "run_after_lt": _aware(self.run_after_lt),
            **extra,
        }


@dataclass(frozen=True)
class RunsPage:
    """One page of a DAG's runs (newest first) and how many match the filter in all."""

    runs: list[DagRun]
    total: int


def parse_dag_task(raw: Any) -> DagTask:
    d = _dict(raw, "task")
    return DagTask(
        task_id=_str(d, "task_id"),
        task_display_name=_ostr(d, "task_display_name"),
        downstream_task_ids=_strlist(d, "downstream_task_ids"),
        is_mapped=bool(_obool(d, "is_mapped")),
        operator_name=_ostr(d, "operator_name"),
    )


def parse_dag_source(raw: Any) -> DagSource:
    d = _dict(raw, "answer")
    return DagSource(dag_id=_str(d, "dag_id"), content=_ostr(d, "content"), version_number=_oint(d, "version_number"))


def listing_runs_of(dag_id: str) -> str:
    """What listing the runs of ``dag_id`` (``"~"``: of every DAG) is called in messages."""
    return "list DAG runs" if dag_id == "~" else f"list runs of DAG {dag_id!r}"


class AirflowDagViews:
    """One DAG's tabs (a part of :class:`~console.airflow.client.AirflowClient`)."""

    session: AirflowSession

    def _fetch(self, what: str, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.session.call(what, operation, *args, idempotent=True, **kwargs)

    def dag_tasks(self, dag_id: str) -> list[DagTask]:
        """Every task of ``dag_id``: one request (Airflow does not page this list)."""
        what = f"list the tasks of DAG {dag_id!r}"
        raw = self._fetch(what, self.session.task_api.get_tasks_without_preload_content, dag_id)
        rows, _ = self.session.parse(what, lambda data: parse_page(data, "tasks"), raw)
        return self.session.parse(what, lambda items: [parse_dag_task(r) for r in items], rows)

    def dag_source(self, dag_id: str) -> DagSource:
        """The source file of ``dag_id`` as Airflow stores it: one request."""
        what = f"read the source of DAG {dag_id!r}"
        api = self.session.dag_source_api
        raw = self._fetch(
            what, api.get_dag_source_without_preload_content, dag_id, _headers={"Accept": "application/json"}
        )
        return self.session.parse(what, parse_dag_source, raw)

    def dag_runs_page(self, dag_id: str, run_filter: RunFilter, *, limit: int, offset: int = 0) -> RunsPage:
        """Runs ``offset`` to ``offset + limit`` (at most 100) of ``dag_id``, newest first,
        matching ``run_filter``, and the total: one request."""
        what = listing_runs_of(dag_id)
        raw = self._fetch(
            what,
            self.session.dag_run_api.get_dag_runs_without_preload_content,
            dag_id,
            limit=max(1, min(limit, BATCH_PAGE)),
            offset=max(0, offset),
            order_by=["-run_after"],
            **run_filter.params(),
        )
        rows, total = self.session.parse(what, lambda data: parse_page(data, "dag_runs"), raw)
        runs = self.session.parse(what, lambda items: [parse_dag_run(r) for r in items], rows)
        return RunsPage(runs, total if total is not None else offset + len(runs))

    def task_instances_of_runs(
        self, dag_id: str, run_ids: list[str], *, max_items: int
    ) -> tuple[list[TaskInstance], bool]:
        """The task instances of ``run_ids`` of ``dag_id`` (mapped ones included) from ``POST
        /dags/~/dagRuns/~/taskInstances/list``, in pages of 100 and at most ``max_items``: at most
        ``ceil(max_items / 100)`` requests.  Also whether more were left unread."""
        if not run_ids:
            return [], False
        from console.airflow import official as o

        what = f"list the task instances of DAG {dag_id!r}"
        api = self.session.task_instance_api
        found: list[TaskInstance] = []
        total: int | None = None
        while len(found) < max_items:
            page_limit = min(BATCH_PAGE, max_items - len(found))
            body = o.TaskInstancesBatchBody(
                dag_ids=[dag_id],
                dag_run_ids=list(run_ids),
                order_by="id",
                page_limit=page_limit,
                page_offset=len(found),
            )
            raw = self._fetch(what, api.get_task_instances_batch_without_preload_content, "~", "~", body)
            rows, total = self.session.parse(what, lambda data: parse_page(data, "task_instances"), raw)
            found.extend(self.session.parse(what, lambda items: [parse_task_instance(r) for r in items], rows))
            if len(rows) < page_limit or (total is not None and len(found) >= total):
                return found, False
        return found, total is None or total > len(found)
