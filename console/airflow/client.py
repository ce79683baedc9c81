"""The one way the console talks to Airflow 3 (REST API v2): :class:`AirflowClient`.

Two layers, like indico-plugins' vc_zoom client:

* :class:`~console.airflow.session.AirflowSession` -- low level: base URL,
  the official client, token, timeouts, retries for GETs only, and the mapping
  of every failure to an :mod:`console.airflow.errors` exception.
* :class:`AirflowClient` (this module) -- what the app uses: typed methods
  returning the plain dataclasses of :mod:`console.airflow.payloads`
  (:class:`Dag`, :class:`DagRun`, ...) and dicts.  The writes live in
  :mod:`console.airflow.writes`, the streamed log reader in
  :mod:`console.airflow.log_stream`, the backfills in :mod:`console.airflow.backfills`.

Contract: every :class:`AirflowClient` method raises only
:class:`~console.airflow.errors.AirflowError` subclasses; no pydantic model,
``ApiException`` or urllib3 object ever leaves it.  Writes are never retried.
Lists follow Airflow's ``limit``/``offset`` pages.  This module is the public
import point: it re-exports the result types and helpers listed in
``__all__`` so callers need not know the split.

No Flask here: the app builds an :class:`AirflowClient` from a server row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from console.airflow.backfills import AirflowBackfills, Backfill, BackfillPage, BackfillRequest
from console.airflow.dag_views import AirflowDagViews, DagSource, DagTask, RunFilter, RunsPage, listing_runs_of
from console.airflow.failures import readable_detail
from console.airflow.log_stream import LogLineStream
from console.airflow.objects import AirflowObjects
from console.airflow.payloads import (
    Dag,
    DagDetails,
    DagImportError,
    DagRun,
    LogLine,
    LogPage,
    TaskInstance,
    parse_dag,
    parse_dag_details,
    parse_dag_run,
    parse_health,
    parse_import_error,
    parse_log_line,
    parse_log_page,
    parse_page,
    parse_task_instance,
    parse_version,
)
from console.airflow.session import RETRY_STATUSES, AirflowSession
from console.airflow.summaries import AirflowSummaries, ImportErrorWindow, RunSample
from console.airflow.task_views import (
    AirflowTaskViews,
    TaskInstanceFilter,
    TaskInstanceInfo,
    TaskInstancesPage,
    TaskTry,
    XComEntry,
)
from console.airflow.tokens import TokenCache
from console.airflow.urls import normalize_base_url
from console.airflow.windows import AirflowWindows, DagFilter, DagWindow
from console.airflow.writes import DAG_RUN_SETTABLE_STATES, TASK_SETTABLE_STATES, AirflowWrites, ClearOptions

__all__ = [
    "DAG_RUN_SETTABLE_STATES",
    "PAGE_SIZE",
    "RETRY_STATUSES",
    "TASK_SETTABLE_STATES",
    "AirflowClient",
    "AirflowSession",
    "Backfill",
    "BackfillPage",
    "BackfillRequest",
    "ClearOptions",
    "Dag",
    "DagDetails",
    "DagFilter",
    "DagImportError",
    "DagRun",
    "DagSource",
    "DagTask",
    "DagWindow",
    "ImportErrorWindow",
    "LogLine",
    "LogLineStream",
    "LogPage",
    "RunFilter",
    "RunSample",
    "RunsPage",
    "TaskInstance",
    "TaskInstanceFilter",
    "TaskInstanceInfo",
    "TaskInstancesPage",
    "TaskTry",
    "XComEntry",
    "normalize_base_url",
    "parse_log_line",
    "readable_detail",
]

#: The v2 API never returns more than this many rows per page.
PAGE_SIZE = 100
#: Never follow more pages than this (a server that always answers a full page).
_MAX_PAGES = 10_000

T = TypeVar("T")


class AirflowClient(
    AirflowWrites,
    AirflowWindows,
    AirflowSummaries,
    AirflowDagViews,
    AirflowTaskViews,
    AirflowObjects,
    AirflowBackfills,
):
    """Typed access to one Airflow 3 server; every method raises only
    :class:`~console.airflow.errors.AirflowError` subclasses.  The reads are
    here, the writes in :class:`~console.airflow.writes.AirflowWrites`, variables, pools,
    connections and configuration in :class:`~console.airflow.objects.AirflowObjects`."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        static_token: str | None = None,
        verify_tls: bool = True,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        name: str = "server",
        attempts: int = 3,
        backoff: float = 0.2,
        token_cache: TokenCache | None = None,
    ) -> None:
        self.session = AirflowSession(
            base_url,
            username=username,
            password=password,
            static_token=static_token,
            verify_tls=verify_tls,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            name=name,
            attempts=attempts,
            backoff=backoff,
            token_cache=token_cache,
        )
        self.name = name
        self.base_url = self.session.base_url

    def __repr__(self) -> str:
        return f"AirflowClient(name={self.name!r}, base_url={self.base_url!r})"

    def log_in(self) -> None:
        """Fetch the bearer token now (if the server uses a login and none is
        cached), so that the next request does not wait for it."""
        self.session.token()

    # -- helpers -------------------------------------------------------------

    def _get(self, what: str, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.session.call(what, operation, *args, idempotent=True, **kwargs)

    def _parse_many(self, what: str, parser: Callable[[Any], T], items: Iterable[Any]) -> list[T]:
        return self.session.parse(what, lambda rows: [parser(r) for r in rows], list(items))

    def _pages(
        self,
        what: str,
        key: str,
        fetch: Callable[[int, int], Any],
        *,
        max_items: int | None = None,
    ) -> list[Any]:
        """Follow ``total_entries`` with ``limit``/``offset`` pages of at most
        :data:`PAGE_SIZE` rows; ``fetch(limit, offset)`` returns the JSON."""
        rows: list[Any] = []
        offset = 0
        for _ in range(_MAX_PAGES):
            limit = PAGE_SIZE if max_items is None else min(PAGE_SIZE, max_items - len(rows))
            if limit <= 0:
                break
            page, total = self.session.parse(what, lambda data: parse_page(data, key), fetch(limit, offset))
            rows.extend(page)
            offset += len(page)
            if not page or (total is not None and offset >= total) or (total is None and len(page) < limit):
                break
        return rows

    # -- server -----------------------------------------------------------

    def version(self) -> dict[str, str | None]:
        """``{"version": "3.3.2", "git_version": "..."}``"""
        what = "read the version"
        data = self._get(what, self.session.version_api.get_version_without_preload_content)
        return self.session.parse(what, parse_version, data)

    def health(self) -> dict[str, str | None]:
        """``{"metadatabase": "healthy", "scheduler": "healthy", ...}``"""
        what = "read the health"
        data = self._get(what, self.session.monitor_api.get_health_without_preload_content)
        return self.session.parse(what, parse_health, data)

    # -- DAGs ---------------------------------------------------------------

    def list_dags(
        self,
        *,
        paused: bool | None = None,
        tags: list[str] | None = None,
        search: str | None = None,
    ) -> list[Dag]:
        """Every (non-stale) DAG, ordered by id, all pages.  ``search`` is a
        case-insensitive substring of the display name (which defaults to the
        id); ``tags`` match any of the given tags."""
        what = "list DAGs"
        api = self.session.dag_api

        def fetch(limit: int, offset: int) -> Any:
            return self._get(
                what,
                api.get_dags_without_preload_content,
                limit=limit,
                offset=offset,
                paused=paused,
                tags=list(tags) if tags else None,
                dag_display_name_pattern=search or None,
                order_by=["dag_id"],
            )

        dags = self._parse_many(what, parse_dag, self._pages(what, "dags", fetch))
        seen: set[str] = set()
        unique = []
        for dag in dags:  # a DAG added between two pages may shift one row
            if dag.dag_id not in seen:
                seen.add(dag.dag_id)
                unique.append(dag)
        return unique

    def list_import_errors(self) -> list[DagImportError]:
        """Every DAG file Airflow could not import, ordered by file name, all pages."""
        what = "list import errors"
        api = self.session.import_error_api

        def fetch(limit: int, offset: int) -> Any:
            return self._get(
                what, api.get_import_errors_without_preload_content, limit=limit, offset=offset, order_by=["filename"]
            )

        return self._parse_many(what, parse_import_error, self._pages(what, "import_errors", fetch))

    def get_dag(self, dag_id: str) -> Dag:
        what = f"read DAG {dag_id!r}"
        return self.session.parse(
            what, parse_dag, self._get(what, self.session.dag_api.get_dag_without_preload_content, dag_id)
        )

    def get_dag_details(self, dag_id: str) -> DagDetails:
        what = f"read DAG {dag_id!r}"
        data = self._get(what, self.session.dag_api.get_dag_details_without_preload_content, dag_id)
        return self.session.parse(what, parse_dag_details, data)

    # -- DAG runs -------------------------------------------------------------

    def list_dag_runs(
        self,
        dag_id: str = "~",
        limit: int = 25,
        order_by: str = "-run_after",
        *,
        state: list[str] | None = None,
    ) -> list[DagRun]:
        """The first ``limit`` runs of ``dag_id`` (``"~"``: of all DAGs), by
        ``order_by``; ``limit`` above 100 is fetched in pages."""
        what = listing_runs_of(dag_id)
        api = self.session.dag_run_api

        def fetch(page_limit: int, offset: int) -> Any:
            return self._get(
                what,
                api.get_dag_runs_without_preload_content,
                dag_id,
                limit=page_limit,
                offset=offset,
                order_by=[order_by],
                state=list(state) if state else None,
            )

        return self._parse_many(what, parse_dag_run, self._pages(what, "dag_runs", fetch, max_items=max(0, limit)))

    def get_dag_run(self, dag_id: str, run_id: str) -> DagRun:
        what = f"read run {run_id!r} of DAG {dag_id!r}"
        data = self._get(what, self.session.dag_run_api.get_dag_run_without_preload_content, dag_id, run_id)
        return self.session.parse(what, parse_dag_run, data)

    # -- task instances -------------------------------------------------------

    def list_task_instances(self, dag_id: str, run_id: str) -> list[TaskInstance]:
        """Every task instance of the run (mapped ones included), all pages."""
        what = f"list tasks of run {run_id!r} of DAG {dag_id!r}"
        api = self.session.task_instance_api

        def fetch(limit: int, offset: int) -> Any:
            return self._get(
                what,
                api.get_task_instances_without_preload_content,
                dag_id,
                run_id,
                limit=limit,
                offset=offset,
                order_by=["id"],
            )

        return self._parse_many(what, parse_task_instance, self._pages(what, "task_instances", fetch))

    # -- logs ---------------------------------------------------------------

    def get_log(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        try_number: int,
        *,
        map_index: int = -1,
        token: str | None = None,
        read_timeout: float | None = None,
    ) -> LogPage:
        """One JSON page of a task log.  Airflow 3.3 answers the whole log at
        once (no continuation token, 18 MB for 50,000 lines): for big logs
        prefer :meth:`iter_log_lines`.  ``read_timeout`` overrides the
        server's for this call (Airflow reads the whole log file before the
        first byte: seconds for a big one)."""
        what = f"read the log of task {task_id!r} in run {run_id!r}"
        data = self._get(
            what,
            self.session.task_instance_api.get_log_without_preload_content,
            dag_id,
            run_id,
            task_id,
            int(try_number),
            map_index=map_index,
            token=token,
            _headers={"Accept": "application/json"},
            _read_timeout=read_timeout,
        )
        return self.session.parse(what, parse_log_page, data)

    def iter_log_lines(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        try_number: int,
        *,
        map_index: int = -1,
        read_timeout: float | None = None,
    ) -> LogLineStream:
        """Stream a task log (``Accept: application/x-ndjson``) one
        :class:`LogLine` at a time, never holding the whole log.

        The request is made now (so a missing task raises here); the lines are
        read as they are iterated.  Close the stream (or use ``with``) if you
        stop early.  The read timeout (the server's, or ``read_timeout``)
        applies to the wait for the first byte and between chunks, not to the
        whole log; Airflow 3.3 sends the first line only once it has read the
        whole log file.
        """
        what = f"read the log of task {task_id!r} in run {run_id!r}"
        response = self.session.stream(
            what,
            self.session.task_instance_api.get_log_without_preload_content,
            dag_id,
            run_id,
            task_id,
            int(try_number),
            map_index=map_index,
            _headers={"Accept": "application/x-ndjson"},
            _read_timeout=read_timeout,
        )
        return LogLineStream(self.session, what, response)
