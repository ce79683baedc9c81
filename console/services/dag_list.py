"""The merged DAG list: one page of the DAGs of every enabled server, at a cost that does not
grow with the number of DAGs.

Each server is asked only for the rows the merged page can need: the query's filters and sort
are pushed down to ``GET /dags`` (``dag_display_name_pattern``, ``tags``, ``paused``,
``last_dag_run_state``, ``order_by``), ``limit = page * per_page`` rows from offset 0, and the
total from ``total_entries``.  The windows are merged and sorted here and the page is cut; the
latest runs of the visible rows come from one batch call per server, and how many files fail to
import (for the banner) from one ``limit=1`` call.  What Airflow cannot do
(sorting by paused or owners, the "never ran" filter, sorting by the latest run) is done within
the fetched window: ``docs/PERFORMANCE.md`` says how that is bounded.

Each server's answer goes through the read cache (:mod:`console.services.read_cache`, kind
``dag_list``); a change made through the console bumps that server's generation, which every
list key holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from flask import current_app

from console.airflow.errors import AirflowError
from console.airflow.registry import enabled_servers
from console.airflow.windows import DagFilter
from console.models.states import DagRunState
from console.services.dag_query import NEVER_RAN, DagQuery, DagRow, order_rows
from console.services.read_cache import Failed, ReadCache, Settled, read_cache
from console.services.server_clients import ServerFailure, client_or_failure, fan_out

if TYPE_CHECKING:
    from console.airflow.client import AirflowClient, DagRun
    from console.models import AirflowServer

#: The sorts Airflow does itself (``GET /dags`` ``order_by``); the others sort the window by id.
PUSHED_SORTS = {
    "dag": "dag_id",
    "server": "dag_id",
    "name": "dag_display_name",
    "next_run": "next_dagrun",
    "state": "last_run_state",
    "last_run": "last_run_start_date",
}
#: Sorts and filters that need every windowed row's latest run before the page can be cut.
RUN_SORTS = ("state", "last_run")
RUN_STATES = sorted(s.value for s in DagRunState)


def status_key(store: ReadCache, server_id: int) -> str:
    """The key of whether ``server_id`` answers now (``"ok"`` or a :class:`ServerFailure`)."""
    return store.key("dag_status", server_id, "status")


def as_result(entry: tuple[str, Any]) -> Any:
    """A cached entry as a fan-out result: the value, or the failure as a :class:`ServerFailure`."""
    status, value = entry
    return ServerFailure(value.server, value.reason) if isinstance(value, Failed) and status == "failed" else value


def remember_status(store: ReadCache, server_id: int, result: Any) -> None:
    """Note whether the server answered (for other screens' banners)."""
    status = result if isinstance(result, ServerFailure) else "ok"
    store.store(status_key(store, server_id), "dag_status", ("ok", status))


@dataclass(frozen=True)
class ServerWindow:
    """One server's first rows for a query, and how many of its DAGs match in all."""

    rows: list[DagRow]
    total: int
    tags: list[str]
    #: How many DAG files fail to import on the server (for the list's banner).
    import_errors: int = 0


@dataclass(frozen=True)
class WindowPlan:
    """What to ask one server for a query."""

    dag_filter: DagFilter
    order_by: str
    limit: int
    with_runs: bool

    @classmethod
    def for_query(cls, query: DagQuery) -> WindowPlan:
        never_ran = query.state == NEVER_RAN
        order = PUSHED_SORTS.get(query.sort, "dag_id")
        return cls(
            dag_filter=DagFilter(
                display_name_pattern=query.search or None,
                tag=query.tag or None,
                paused={"paused": True, "active": False}.get(query.paused),
                last_run_state=query.state if query.state in RUN_STATES else None,
            ),
            order_by=f"-{order}" if query.desc else order,
            limit=query.page * query.per_page,
            with_runs=never_ran or query.sort in RUN_SORTS,
        )


def _fetch_window(server_id: int, server_name: str, client: AirflowClient, plan: WindowPlan) -> ServerWindow:
    window = client.dag_window(plan.dag_filter, limit=plan.limit, order_by=plan.order_by)
    latest = client.latest_runs_of([d.dag_id for d in window.dags]) if plan.with_runs else {}
    rows = [DagRow(server_id, server_name, dag, latest.get(dag.dag_id)) for dag in window.dags]
    return ServerWindow(rows, window.total, client.dag_tags(), _import_error_count(client))


def _import_error_count(client: AirflowClient) -> int:
    """How many files fail to import: one ``limit=1`` call; 0 when Airflow will not say (the
    banner is a hint: it must not take the list down with it)."""
    try:
        return client.import_error_window(limit=1).total
    except AirflowError:
        return 0


def cached_fan_out(
    servers: list[AirflowServer],
    name: Hashable,
    make_call: Callable[[int, str, AirflowClient], Callable[[], Any]],
    deadline: float | None = None,
    kind: str = "dag_list",
    settled: Settled | None = None,
) -> dict[int, Any]:
    """Each server's answer to the call ``make_call`` builds, or why it has none: from the read
    cache (kind ``kind``, query ``name``), else asked in parallel within ``deadline`` seconds
    (default ``DAGS_FANOUT_DEADLINE_SECONDS``), one call per key however many requests miss it;
    an answer ``settled`` calls unsettled is kept only briefly (see ``read_cache``)."""
    store = read_cache()
    results: dict[int, Any] = {}
    calls: dict[int, tuple[str, Callable[[], Any]]] = {}
    for server in servers:
        key = store.key(kind, server.id, name)
        entry = store.lookup(key, kind)
        if entry is not None:
            results[server.id] = as_result(entry)
            continue
        client = client_or_failure(server)
        if isinstance(client, ServerFailure):
            results[server.id] = client
            continue
        loader = make_call(server.id, server.name, client)
        calls[server.id] = (server.name, partial(store.load, key, kind, loader, settled))
    fetched = fan_out(calls, deadline or float(current_app.config["DAGS_FANOUT_DEADLINE_SECONDS"]))
    for sid, result in fetched.items():
        results[sid] = result
        remember_status(store, sid, result)
    return results


@dataclass
class DagListing:
    """One page of the merged list, plus what the filter form and banners need."""

    rows: list[DagRow]
    total: int
    page: int
    pages: int
    query: DagQuery
    failures: list[ServerFailure]
    servers: list[str]
    tags: list[str]
    states: list[str]
    #: Servers with DAG files that fail to import, and how many files.
    import_errors: dict[str, int] = field(default_factory=dict)


def _with_latest_runs(servers: list[AirflowServer], rows: list[DagRow], deadline: float) -> list[DagRow]:
    """``rows`` with their latest run: one batch call per server with visible rows (cached), all
    within ``deadline`` seconds (a server that does not answer in time shows no last runs)."""
    wanted: dict[int, list[str]] = {}
    for row in rows:
        if row.last_run is None:
            wanted.setdefault(row.server_id, []).append(row.dag.dag_id)
    asked = [s for s in servers if s.id in wanted]
    if not asked:
        return rows
    name = "runs:" + "|".join(f"{sid}={','.join(ids)}" for sid, ids in sorted(wanted.items()))
    latest = cached_fan_out(
        asked, name, lambda sid, _name, client: partial(client.latest_runs_of, wanted[sid]), deadline
    )
    out = []
    for row in rows:
        runs = latest.get(row.server_id)
        run: DagRun | None = runs.get(row.dag.dag_id) if isinstance(runs, dict) else None
        out.append(DagRow(row.server_id, row.server_name, row.dag, row.last_run or run))
    return out


def list_dags(query: DagQuery) -> DagListing:
    """One page of the merged list of every enabled server's DAGs, filtered, sorted and paged by
    ``query``; per server a constant number of Airflow calls for a given page size and number."""
    started = time.monotonic()
    every = enabled_servers()
    servers = [s for s in every if not query.server or s.name == query.server]
    plan = WindowPlan.for_query(query)
    key = f"window:{plan!r}"
    windows = cached_fan_out(servers, key, lambda sid, name, client: partial(_fetch_window, sid, name, client, plan))
    rows: list[DagRow] = []
    failures: list[ServerFailure] = []
    broken: dict[str, int] = {}
    total = 0
    for server in servers:
        result = windows[server.id]
        if isinstance(result, ServerFailure):
            failures.append(result)
            continue
        rows.extend(result.rows)
        total += result.total
        if result.import_errors:
            broken[server.name] = result.import_errors
    matcher = query if plan.with_runs else replace(query, state="")  # Airflow filtered the state
    kept = [r for r in rows if matcher.matches(r)]
    if plan.with_runs and query.state == NEVER_RAN:
        total = len(kept)  # counted within the window (docs/PERFORMANCE.md)
    pages = max(1, -(-total // query.per_page))
    page = min(query.page, pages)
    start = (page - 1) * query.per_page
    visible = order_rows(kept, query)[start : start + query.per_page]
    deadline = float(current_app.config["DAGS_FANOUT_DEADLINE_SECONDS"])
    return DagListing(
        rows=_with_latest_runs(servers, visible, max(1.0, deadline - (time.monotonic() - started))),
        total=total,
        page=page,
        pages=pages,
        query=query,
        failures=failures,
        servers=[s.name for s in every],
        tags=sorted({t for s in servers if isinstance(w := windows[s.id], ServerWindow) for t in w.tags}),
        states=RUN_STATES,
        import_errors=broken,
    )
