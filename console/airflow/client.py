"""The one way the console talks to Airflow 3 (REST API v2): :class:`AirflowClient`.

Two layers, like indico-plugins' vc_zoom client:

* :class:`~console.airflow.session.AirflowSession` -- low level: base URL,
  the official client, token, timeouts, retries for GETs only, and the mapping
  of every failure to an :mod:`console.airflow.errors` exception.
* :class:`AirflowClient` (this module) -- what the app uses: typed methods
  returning the plain dataclasses of :mod:`console.airflow.payloads`
  (:class:`Dag`, :class:`DagRun`, ...) and dicts.

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
from datetime import datetime
from typing import Any

from console.airflow.errors import AirflowBadRequest, AirflowConflict, AirflowUnexpectedPayload
from console.airflow.payloads import (
    Dag,
    DagDetails,
    DagRun,
    LogLine,
    LogPage,
    TaskInstance,
    _Bad,
    _dict,
    _list,
    _oint,
    _ostr,
    _parse_dag,
    _parse_dag_details,
    _parse_dag_run,
    _parse_task_instance,
    _str,
    parse_log_line,
    readable_detail,
)
from console.airflow.session import RETRY_STATUSES, AirflowSession, LogLineStream, normalize_base_url
from console.airflow.tokens import TokenCache

__all__ = [
    "DAG_RUN_SETTABLE_STATES",
    "PAGE_SIZE",
    "RETRY_STATUSES",
    "TASK_SETTABLE_STATES",
    "AirflowClient",
    "AirflowSession",
    "Dag",
    "DagDetails",
    "DagRun",
    "LogLine",
    "LogLineStream",
    "LogPage",
    "TaskInstance",
    "normalize_base_url",
    "parse_log_line",
    "readable_detail",
]

#: The v2 API never returns more than this many rows per page.
PAGE_SIZE = 100
#: Run states a person may set on a DAG run.
DAG_RUN_SETTABLE_STATES = ("success", "failed", "queued")
#: Task-instance states a person may set.
TASK_SETTABLE_STATES = ("success", "failed", "skipped")

_MAX_PAGES = 10_000


class AirflowClient:
    """Typed access to one Airflow 3 server; every method raises only
    :class:`~console.airflow.errors.AirflowError` subclasses."""

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

    # -- helpers -------------------------------------------------------------

    def _get(self, what: str, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.session.call(what, operation, *args, idempotent=True, **kwargs)

    def _write(self, what: str, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.session.call(what, operation, *args, idempotent=False, **kwargs)

    def _parse(self, what: str, parser: Callable[[Any], Any], raw: Any) -> Any:
        try:
            return parser(raw)
        except _Bad as exc:
            raise self.session._error(
                AirflowUnexpectedPayload, f"cannot {what}: unexpected answer ({exc.args[0]!s} missing or invalid)"
            ) from None

    def _parse_many(self, what: str, parser: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        return self._parse(what, lambda rows: [parser(r) for r in rows], list(items))

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
            data = fetch(limit, offset)
            try:
                page = _list(_dict(data, "answer"), key)
                total = _oint(data, "total_entries")
            except _Bad as exc:
                raise self.session._error(
                    AirflowUnexpectedPayload, f"cannot {what}: unexpected answer ({exc.args[0]} missing or invalid)"
                ) from None
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
        return self._parse(
            what,
            lambda d: {"version": _str(_dict(d, "answer"), "version"), "git_version": _ostr(d, "git_version")},
            data,
        )

    def health(self) -> dict[str, str | None]:
        """``{"metadatabase": "healthy", "scheduler": "healthy", ...}``"""
        what = "read the health"
        data = self._get(what, self.session.monitor_api.get_health_without_preload_content)

        def parse(d: Any) -> dict[str, str | None]:
            out: dict[str, str | None] = {}
            for component, info in _dict(d, "answer").items():
                out[component] = None if info is None else _ostr(_dict(info, component), "status")
            return out

        return self._parse(what, parse, data)

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

        dags = self._parse_many(what, _parse_dag, self._pages(what, "dags", fetch))
        seen: set[str] = set()
        unique = []
        for dag in dags:  # a DAG added between two pages may shift one row
            if dag.dag_id not in seen:
                seen.add(dag.dag_id)
                unique.append(dag)
        return unique

    def get_dag(self, dag_id: str) -> Dag:
        what = f"read DAG {dag_id!r}"
        return self._parse(
            what, _parse_dag, self._get(what, self.session.dag_api.get_dag_without_preload_content, dag_id)
        )

    def get_dag_details(self, dag_id: str) -> DagDetails:
        what = f"read DAG {dag_id!r}"
        data = self._get(what, self.session.dag_api.get_dag_details_without_preload_content, dag_id)
        return self._parse(what, _parse_dag_details, data)

    def set_paused(self, dag_id: str, paused: bool) -> Dag:
        what = f"{'pause' if paused else 'unpause'} DAG {dag_id!r}"
        o = self.session.o
        data = self._write(
            what,
            self.session.dag_api.patch_dag_without_preload_content,
            dag_id,
            o.DAGPatchBody(is_paused=bool(paused)),
            update_mask=["is_paused"],
        )
        return self._parse(what, _parse_dag, data)

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
        what = "list DAG runs" if dag_id == "~" else f"list runs of DAG {dag_id!r}"
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

        return self._parse_many(what, _parse_dag_run, self._pages(what, "dag_runs", fetch, max_items=max(0, limit)))

    def latest_dag_runs(self, dag_ids: Iterable[str] | None = None, *, window: int = PAGE_SIZE) -> dict[str, DagRun]:
        """The latest run (by ``run_after``) of each DAG, for the DAG list.

        Cheapest way found on Airflow 3.3: the public DAG list has no
        last-run fields, so ONE ``GET /api/v2/dags/~/dagRuns?order_by=-run_after
        &limit=100`` covers every DAG that ran recently; only the DAGs of
        ``dag_ids`` absent from that window cost one more
        ``GET /dags/{id}/dagRuns?limit=1`` each.  ``dag_ids=None``: just the
        window.  DAGs that never ran are absent from the result.
        """
        latest: dict[str, DagRun] = {}
        recent = self.list_dag_runs("~", limit=window, order_by="-run_after")
        for run in recent:
            latest.setdefault(run.dag_id, run)
        if dag_ids is None:
            return latest
        wanted = list(dict.fromkeys(dag_ids))
        if len(recent) >= window:  # the window may have cut older runs off
            for dag_id in wanted:
                if dag_id not in latest:
                    runs = self.list_dag_runs(dag_id, limit=1, order_by="-run_after")
                    if runs:
                        latest[dag_id] = runs[0]
        return {d: latest[d] for d in wanted if d in latest}

    def get_dag_run(self, dag_id: str, run_id: str) -> DagRun:
        what = f"read run {run_id!r} of DAG {dag_id!r}"
        data = self._get(what, self.session.dag_run_api.get_dag_run_without_preload_content, dag_id, run_id)
        return self._parse(what, _parse_dag_run, data)

    def trigger_dag_run(
        self,
        dag_id: str,
        *,
        run_id: str | None = None,
        conf: dict[str, Any] | None = None,
        logical_date: datetime | None = None,
        note: str | None = None,
    ) -> DagRun:
        """Create a manual run (never retried here).  A ``run_id`` that exists
        -> :class:`AirflowConflict`; params Airflow rejects ->
        :class:`AirflowBadRequest` with Airflow's message."""
        what = f"trigger DAG {dag_id!r}"
        o = self.session.o
        if logical_date is not None and logical_date.tzinfo is None:
            raise AirflowBadRequest(self.name, f"cannot {what}: logical_date must be timezone-aware")
        try:
            body = o.TriggerDAGRunPostBody(dag_run_id=run_id, conf=conf, logical_date=logical_date, note=note)
        except ValueError as exc:
            raise self.session._bad_arguments(what, exc) from None
        try:
            data = self._write(what, self.session.dag_run_api.trigger_dag_run_without_preload_content, dag_id, body)
        except AirflowConflict as exc:
            if run_id is not None:
                reason = f"cannot {what}: a run with run id {run_id!r} already exists"
            else:
                reason = f"cannot {what}: a run with that logical date already exists"
            raise AirflowConflict(self.name, reason, status=exc.status) from None
        return self._parse(what, _parse_dag_run, data)

    def set_dag_run_state(self, dag_id: str, run_id: str, state: str) -> DagRun:
        what = f"set the state of run {run_id!r} of DAG {dag_id!r}"
        if state not in DAG_RUN_SETTABLE_STATES:
            raise AirflowBadRequest(
                self.name, f"cannot {what}: state must be one of {', '.join(DAG_RUN_SETTABLE_STATES)}"
            )
        o = self.session.o
        data = self._write(
            what,
            self.session.dag_run_api.patch_dag_run_without_preload_content,
            dag_id,
            run_id,
            o.DAGRunPatchBody(state=o.DagRunMutableStates(state)),
            update_mask=["state"],
        )
        return self._parse(what, _parse_dag_run, data)

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

        return self._parse_many(what, _parse_task_instance, self._pages(what, "task_instances", fetch))

    def clear_task_instances(
        self,
        dag_id: str,
        *,
        run_id: str,
        task_ids: list[str] | None = None,
        only_failed: bool = False,
        dry_run: bool = False,
    ) -> list[TaskInstance]:
        """Clear (re-run) tasks of one run; returns the task instances cleared
        (or, with ``dry_run``, that would be).  The run goes back to queued."""
        what = f"clear tasks of run {run_id!r} of DAG {dag_id!r}"
        o = self.session.o
        try:
            body = o.ClearTaskInstancesBody(
                dag_run_id=run_id,
                task_ids=[o.ClearTaskInstancesBodyTaskIdsInner(t) for t in task_ids] if task_ids else None,
                only_failed=only_failed,
                dry_run=dry_run,
            )
        except ValueError as exc:
            raise self.session._bad_arguments(what, exc) from None
        call = self._get if dry_run else self._write
        data = call(
            what, self.session.task_instance_api.post_clear_task_instances_without_preload_content, dag_id, body
        )
        return self._parse(
            what, lambda d: [_parse_task_instance(t) for t in _list(_dict(d, "answer"), "task_instances")], data
        )

    def set_task_instance_state(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        state: str,
        *,
        map_index: int | None = None,
    ) -> list[TaskInstance]:
        """Mark a task instance success/failed/skipped; returns those changed."""
        what = f"set the state of task {task_id!r} in run {run_id!r} of DAG {dag_id!r}"
        if state not in TASK_SETTABLE_STATES:
            raise AirflowBadRequest(self.name, f"cannot {what}: state must be one of {', '.join(TASK_SETTABLE_STATES)}")
        o = self.session.o
        body = o.PatchTaskInstanceBody(new_state=o.TaskInstanceState(state))
        api = self.session.task_instance_api
        where: tuple[str | int, ...]
        if map_index is None or map_index < 0:
            patch, where = api.patch_task_instance_without_preload_content, (dag_id, run_id, task_id)
        else:
            patch = api.patch_task_instance_by_map_index_without_preload_content
            where = (dag_id, run_id, task_id, map_index)
        data = self._write(what, patch, *where, body, update_mask=["new_state"])
        return self._parse(
            what, lambda d: [_parse_task_instance(t) for t in _list(_dict(d, "answer"), "task_instances")], data
        )

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

        def parse(d: Any) -> LogPage:
            d = _dict(d, "answer")
            return LogPage(
                lines=[parse_log_line(line) for line in _list(d, "content")],
                continuation_token=_ostr(d, "continuation_token"),
            )

        return self._parse(what, parse, data)

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
