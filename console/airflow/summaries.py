"""Bounded reads for the dashboard: run counts from ``total_entries``, a capped sample of recent
runs, the newest failed task instances, a window of import errors.

A part of :class:`~console.airflow.client.AirflowClient`.  Contract: the number of requests of
each method depends only on its arguments (``limit``, ``max_runs``), never on how many DAGs or
runs the server has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from console.airflow.payloads import (
    DagImportError,
    DagRun,
    TaskInstance,
    parse_dag_run,
    parse_import_error,
    parse_page,
    parse_task_instance,
)

if TYPE_CHECKING:
    from console.airflow.session import AirflowSession

#: The v2 API never returns more than this many rows per page.
SUMMARY_PAGE = 100


@dataclass(frozen=True)
class RunSample:
    """The newest runs since a moment (at most the cap asked for), and how many there are in all."""

    runs: list[DagRun]
    total: int

    @property
    def capped(self) -> bool:
        return self.total > len(self.runs)


@dataclass(frozen=True)
class ImportErrorWindow:
    """The first import errors by file name, and how many files fail to import in all."""

    errors: list[DagImportError]
    total: int


def _aware(moment: datetime | None) -> datetime | None:
    """Airflow answers 500 to a date filter without a zone: a naive moment is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


class AirflowSummaries:
    """Counts and capped samples (a part of :class:`~console.airflow.client.AirflowClient`)."""

    session: AirflowSession

    def _page(self, what: str, key: str, operation: Any, *args: Any, **kwargs: Any) -> tuple[list[Any], int]:
        raw = self.session.call(what, operation, *args, idempotent=True, **kwargs)
        rows, total = self.session.parse(what, lambda data: parse_page(data, key), raw)
        return rows, total if total is not None else len(rows)

    def count_runs(self, *, state: str | None = None, since: datetime | None = None) -> int:
        """How many runs of all DAGs are in ``state`` (any when ``None``) with ``run_after`` at or
        after ``since``: one ``limit=1`` request."""
        _rows, total = self._page(
            "count DAG runs",
            "dag_runs",
            self.session.dag_run_api.get_dag_runs_without_preload_content,
            "~",
            limit=1,
            state=[state] if state else None,
            run_after_gte=_aware(since),
        )
        return total

    def runs_since(self, since: datetime, *, max_runs: int) -> RunSample:
        """The newest runs of all DAGs with ``run_after`` at or after ``since``, at most
        ``max_runs`` of them: ``ceil(max_runs / 100)`` requests at most, at least one."""
        what = "list recent DAG runs"
        runs: list[DagRun] = []
        total = 0
        while True:
            limit = max(1, min(SUMMARY_PAGE, max_runs - len(runs)))
            rows, total = self._page(
                what,
                "dag_runs",
                self.session.dag_run_api.get_dag_runs_without_preload_content,
                "~",
                limit=limit,
                offset=len(runs),
                order_by=["-run_after", "id"],
                run_after_gte=_aware(since),
            )
            runs.extend(self.session.parse(what, lambda items: [parse_dag_run(r) for r in items], rows))
            if len(rows) < limit or len(runs) >= min(max_runs, total):
                break
        return RunSample(runs[:max_runs], max(total, len(runs)))

    def failed_task_instances(self, since: datetime, *, limit: int) -> list[TaskInstance]:
        """The ``limit`` newest failed task instances (by end date) of every DAG whose run is at
        or after ``since``: one request."""
        rows, _ = self._page(
            "list failed tasks",
            "task_instances",
            self.session.task_instance_api.get_task_instances_without_preload_content,
            "~",
            "~",
            limit=max(1, limit),
            state=["failed"],
            run_after_gte=_aware(since),
            order_by=["-end_date"],
        )
        return self.session.parse(
            "list failed tasks", lambda items: [parse_task_instance(r) for r in items], rows[:limit]
        )

    def import_error_window(self, *, limit: int) -> ImportErrorWindow:
        """The first ``limit`` import errors by file name and their total: one request."""
        what = "list import errors"
        rows, total = self._page(
            what,
            "import_errors",
            self.session.import_error_api.get_import_errors_without_preload_content,
            limit=max(1, limit),
            order_by=["filename"],
        )
        errors = self.session.parse(what, lambda items: [parse_import_error(r) for r in items], rows[:limit])
        return ImportErrorWindow(errors, total)
