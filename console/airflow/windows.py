"""Bounded reads for the screens that summarise many DAGs: one window of DAGs, counts from
``total_entries``, the latest runs of a few DAGs in one batch call.

A part of :class:`~console.airflow.client.AirflowClient`.  Contract: the number of requests of
each method depends on its arguments (``limit``, the number of ``dag_ids``), never on the
number of DAGs the server has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from console.airflow.payloads import Dag, DagRun, parse_dag, parse_dag_run, parse_page

if TYPE_CHECKING:
    from console.airflow.session import AirflowSession

#: The v2 API never returns more than this many rows per page.
WINDOW_PAGE = 100
#: Batches of latest runs before falling back to one ``limit=1`` request per DAG still missing:
#: the second batch leaves out the busy DAGs that filled the first.
LATEST_RUN_BATCHES = 2
#: What the latest-runs requests are called in messages and call counts.
LATEST_RUNS = "list the latest DAG runs"


@dataclass(frozen=True)
class DagFilter:
    """What Airflow itself filters ``GET /dags`` by; ``None`` means no filter."""

    display_name_pattern: str | None = None
    tag: str | None = None
    paused: bool | None = None
    last_run_state: str | None = None
    has_import_errors: bool | None = None

    def params(self) -> dict[str, Any]:
        from console.airflow import official as o

        return {
            "dag_display_name_pattern": self.display_name_pattern or None,
            "tags": [self.tag] if self.tag else None,
            "paused": self.paused,
            "last_dag_run_state": o.DagRunState(self.last_run_state) if self.last_run_state else None,
            "has_import_errors": self.has_import_errors,
        }


@dataclass(frozen=True)
class DagWindow:
    """The first rows of a filtered, ordered DAG list, and how many DAGs match in all."""

    dags: list[Dag]
    total: int


class AirflowWindows:
    """Windows, counts and batch reads (a part of :class:`~console.airflow.client.AirflowClient`)."""

    session: AirflowSession

    def _read(self, what: str, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.session.call(what, operation, *args, idempotent=True, **kwargs)

    def dag_window(self, dag_filter: DagFilter, *, limit: int, order_by: str = "dag_id") -> DagWindow:
        """The first ``limit`` DAGs matching ``dag_filter`` by ``order_by`` (offset 0), and the
        total that match: ``ceil(limit / 100)`` requests, at least one (``limit=0``: the count)."""
        what = "list DAGs"
        dags: list[Dag] = []
        while True:
            page_limit = min(WINDOW_PAGE, limit - len(dags))
            raw = self._read(
                what,
                self.session.dag_api.get_dags_without_preload_content,
                limit=max(page_limit, 1),
                offset=len(dags),
                order_by=[order_by] if order_by.lstrip("-") == "dag_id" else [order_by, "dag_id"],
                **dag_filter.params(),
            )
            rows, found = self.session.parse(what, lambda data: parse_page(data, "dags"), raw)
            total = found if found is not None else len(dags) + len(rows)
            if page_limit <= 0:
                break
            dags.extend(self.session.parse(what, lambda items: [parse_dag(r) for r in items], rows[:page_limit]))
            if len(rows) < page_limit or len(dags) >= min(limit, total):
                break
        return DagWindow(dags, total)

    def count_dags(self, dag_filter: DagFilter | None = None) -> int:
        """How many DAGs match ``dag_filter``: one ``limit=1`` request."""
        return self.dag_window(dag_filter or DagFilter(), limit=0).total

    def latest_runs_of(self, dag_ids: list[str], *, window: int = WINDOW_PAGE) -> dict[str, DagRun]:
        """The latest run (by ``run_after``) of each of ``dag_ids``: one ``POST
        /dags/~/dagRuns/list`` for them all; if that window was full (busy DAGs crowded the others
        out), a second batch for the DAGs it left out; if that is full too, one ``limit=1``
        request per DAG still missing -- so usually 1 or 2 requests, never more than
        ``2 + len(dag_ids)``.  DAGs that never ran are absent from the result."""
        wanted = list(dict.fromkeys(dag_ids))
        latest: dict[str, DagRun] = {}
        missing = wanted
        for _batch in range(LATEST_RUN_BATCHES):
            if not missing:
                break
            full = self._latest_runs_batch(missing, window, latest)
            # Not full: every run of the DAGs asked for fitted, so the missing ones never ran.
            missing = [d for d in missing if d not in latest] if full else []
        for dag_id in missing:
            raw = self._read(
                LATEST_RUNS,
                self.session.dag_run_api.get_dag_runs_without_preload_content,
                dag_id,
                limit=1,
                order_by=["-run_after"],
            )
            one, _ = self.session.parse(LATEST_RUNS, lambda data: parse_page(data, "dag_runs"), raw)
            if one:
                latest[dag_id] = self.session.parse(LATEST_RUNS, parse_dag_run, one[0])
        return {d: latest[d] for d in wanted if d in latest}

    def _latest_runs_batch(self, dag_ids: list[str], window: int, latest: dict[str, DagRun]) -> bool:
        """One batch of the newest ``window`` runs of ``dag_ids`` into ``latest`` (the first run
        seen of each DAG); whether the window was full."""
        from console.airflow import official as o

        what = LATEST_RUNS
        body = o.DAGRunsBatchBody(dag_ids=dag_ids, order_by="-run_after", page_limit=window)
        raw = self._read(what, self.session.dag_run_api.get_list_dag_runs_batch_without_preload_content, "~", body)
        rows, _total = self.session.parse(what, lambda data: parse_page(data, "dag_runs"), raw)
        runs = self.session.parse(what, lambda items: [parse_dag_run(r) for r in items], rows)
        for run in runs:
            latest.setdefault(run.dag_id, run)
        return len(runs) >= window

    def dag_tags(self) -> list[str]:
        """The first 100 DAG tags by name (one request), for the filter form."""
        what = "list DAG tags"
        raw = self._read(what, self.session.dag_api.get_dag_tags_without_preload_content, limit=100, order_by=["name"])
        tags, _ = self.session.parse(what, lambda data: parse_page(data, "tags"), raw)
        return [str(t) for t in tags]
