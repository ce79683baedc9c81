"""Reading DAGs across every enabled Airflow server: the merged list, one DAG, one run.

Nothing here raises :class:`~console.airflow.errors.AirflowError`: a server
that is down, slow or refuses the credentials comes back as a
:class:`~console.services.server_clients.ServerFailure` next to the data of the
servers that answered.  The actions that change Airflow live in
:mod:`console.services.dag_actions`.

The list is fetched from all servers in parallel (one thread per server, each
call bounded by the server's own timeouts and the whole fan-out by
``DAGS_FANOUT_DEADLINE_SECONDS``) and cached per server for
``DAGS_LIST_CACHE_SECONDS``; a pause or trigger drops that server's entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from flask import current_app

from console.airflow.errors import AirflowError, AirflowNotFound
from console.airflow.registry import enabled_servers
from console.extensions import cache
from console.models.states import DagRunState
from console.services.dag_query import DagQuery, DagRow, select_rows
from console.services.server_clients import ServerFailure, ServerHandle, client_or_failure, fan_out, resolve_server

if TYPE_CHECKING:
    from console.airflow.client import AirflowClient, Dag, DagDetails, DagRun, TaskInstance
    from console.models import AirflowServer

RECENT_RUNS = 25


def _list_key(server_id: int) -> str:
    return f"dags:list:{server_id}"


def _status_key(server_id: int) -> str:
    return f"dags:status:{server_id}"


def invalidate(server_id: int) -> None:
    """Forget the cached DAG list of ``server_id`` (after a change made through the console)."""
    cache.delete(_list_key(server_id))


# --- the merged list ------------------------------------------------------------------------


def _server_rows(server_id: int, server_name: str, client: AirflowClient) -> list[DagRow]:
    dags = client.list_dags()
    latest = client.latest_dag_runs([d.dag_id for d in dags]) if dags else {}
    return [DagRow(server_id, server_name, dag, latest.get(dag.dag_id)) for dag in dags]


def _server_lists(servers: list[AirflowServer]) -> dict[int, list[DagRow] | ServerFailure]:
    """Each server's rows, or why it has none: from the cache, else asked in parallel (within
    ``DAGS_FANOUT_DEADLINE_SECONDS``) and cached for ``DAGS_LIST_CACHE_SECONDS``."""
    results: dict[int, list[DagRow] | ServerFailure] = {}
    calls: dict[int, tuple[str, Callable[[], list[DagRow]]]] = {}
    for server in servers:
        cached = cache.get(_list_key(server.id))
        if cached is not None:
            results[server.id] = cached
            continue
        client = client_or_failure(server)
        if isinstance(client, ServerFailure):
            results[server.id] = client
            continue
        calls[server.id] = (server.name, partial(_server_rows, server.id, server.name, client))
    fetched = fan_out(calls, float(current_app.config["DAGS_FANOUT_DEADLINE_SECONDS"]))
    ttl = int(current_app.config["DAGS_LIST_CACHE_SECONDS"])
    for sid, result in fetched.items():
        results[sid] = result
        cache.set(_list_key(sid), result, timeout=ttl)
    return results


def fetch_all_rows() -> tuple[list[DagRow], list[ServerFailure]]:
    """Every DAG of every enabled server (cached per server), and the servers that failed."""
    servers = enabled_servers()
    results = _server_lists(servers)
    rows: list[DagRow] = []
    failures: list[ServerFailure] = []
    for server in servers:
        result = results[server.id]
        if isinstance(result, ServerFailure):
            failures.append(result)
        else:
            rows.extend(result)
    return rows, failures


def server_dags(server: AirflowServer) -> list[Dag] | ServerFailure:
    """The DAGs of ``server`` (enabled or not: the caller chooses), or why it cannot list them;
    shares the merged list's cache and deadline."""
    result = _server_lists([server])[server.id]
    return result if isinstance(result, ServerFailure) else [row.dag for row in result]


def server_dag_details(server: AirflowServer, dag_id: str) -> DagDetails | ServerFailure:
    """``dag_id``'s details (its params) on ``server``, or why they cannot be read, within
    ``DAGS_FANOUT_DEADLINE_SECONDS``."""
    client = client_or_failure(server)
    if isinstance(client, ServerFailure):
        return client
    deadline = float(current_app.config["DAGS_FANOUT_DEADLINE_SECONDS"])
    answers = fan_out({server.id: (server.name, partial(client.get_dag_details, dag_id))}, deadline)
    return answers[server.id]


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


def list_dags(query: DagQuery) -> DagListing:
    """The merged list of every enabled server's DAGs, filtered, sorted and paged by ``query``."""
    rows, failures = fetch_all_rows()
    page_rows, total, page, pages = select_rows(rows, query)
    return DagListing(
        rows=page_rows,
        total=total,
        page=page,
        pages=pages,
        query=query,
        failures=failures,
        servers=[s.name for s in enabled_servers()],
        tags=sorted({t for r in rows for t in r.dag.tags}),
        states=sorted({r.last_state for r in rows if r.last_state}),
    )


def other_server_failures(exclude_server_id: int | None = None) -> list[ServerFailure]:
    """The enabled servers (but ``exclude_server_id``) that are failing now, for the
    banner on single-server screens.  Uses the cached list when there is one,
    else one ``version()`` call per server (cached ``DAGS_STATUS_CACHE_SECONDS``)."""
    out: dict[int, ServerFailure | None] = {}
    calls: dict[int, tuple[str, Callable[[], object]]] = {}
    servers = [s for s in enabled_servers() if s.id != exclude_server_id]
    for server in servers:
        known = cache.get(_list_key(server.id))
        if known is None:
            known = cache.get(_status_key(server.id))
        if known is not None:
            out[server.id] = known if isinstance(known, ServerFailure) else None
            continue
        client = client_or_failure(server)
        if isinstance(client, ServerFailure):
            out[server.id] = client
            continue
        calls[server.id] = (server.name, client.version)
    deadline = float(current_app.config["DAGS_STATUS_DEADLINE_SECONDS"])
    ttl = int(current_app.config["DAGS_STATUS_CACHE_SECONDS"])
    for sid, result in fan_out(calls, deadline).items():
        out[sid] = result if isinstance(result, ServerFailure) else None
        cache.set(_status_key(sid), result if isinstance(result, ServerFailure) else "ok", timeout=ttl)
    return [failure for s in servers if (failure := out.get(s.id)) is not None]


# --- one DAG, one run -----------------------------------------------------------------------


@dataclass
class DagPage:
    server: ServerHandle
    dag_id: str
    dag: DagDetails | None = None
    runs: list[DagRun] = field(default_factory=list)
    #: The run whose task instances are shown (the newest unless one was asked for).
    selected: DagRun | None = None
    tasks: list[TaskInstance] = field(default_factory=list)
    failure: ServerFailure | None = None
    not_found: bool = False


@dataclass
class RunPage:
    server: ServerHandle
    dag_id: str
    run_id: str
    dag: Dag | None = None
    run: DagRun | None = None
    tasks: list[TaskInstance] = field(default_factory=list)
    failure: ServerFailure | None = None
    not_found: bool = False

    @property
    def finished(self) -> bool:
        return self.run is not None and self.run.state in DagRunState.FINAL


def load_dag(server_id: int, dag_id: str, run_id: str | None = None, runs: int = RECENT_RUNS) -> DagPage:
    """A DAG's details, its recent runs, and the task instances of run ``run_id`` (default: the
    newest); ``not_found`` if Airflow has no such DAG (an unknown ``run_id`` selects nothing)."""
    page = DagPage(resolve_server(server_id), dag_id)
    try:
        client = page.server.client
        page.dag = client.get_dag_details(dag_id)
        page.runs = client.list_dag_runs(dag_id, limit=runs)
        page.selected = next((r for r in page.runs if r.run_id == run_id), None) if run_id else None
        if run_id and page.selected is None:
            page.selected = client.get_dag_run(dag_id, run_id)
        page.selected = page.selected or (page.runs[0] if page.runs else None)
        if page.selected is not None:
            page.tasks = client.list_task_instances(dag_id, page.selected.run_id)
    except AirflowNotFound:
        page.not_found = page.dag is None
    except AirflowError as exc:
        page.failure = ServerFailure.from_error(exc)
    return page


def load_run(server_id: int, dag_id: str, run_id: str) -> RunPage:
    """One run with its task instances; ``not_found`` if the DAG or the run does not exist."""
    page = RunPage(resolve_server(server_id), dag_id, run_id)
    try:
        client = page.server.client
        page.dag = client.get_dag(dag_id)
        page.run = client.get_dag_run(dag_id, run_id)
        page.tasks = client.list_task_instances(dag_id, run_id)
    except AirflowNotFound:
        page.not_found = page.run is None
    except AirflowError as exc:
        page.failure = ServerFailure.from_error(exc)
    return page


def load_dag_details(server_id: int, dag_id: str) -> tuple[ServerHandle, DagDetails | None, ServerFailure | None]:
    """For the trigger form: the DAG's details (``None`` with the failure, or with
    no failure when the DAG does not exist)."""
    server = resolve_server(server_id)
    try:
        return server, server.client.get_dag_details(dag_id), None
    except AirflowNotFound:
        return server, None, None
    except AirflowError as exc:
        return server, None, ServerFailure.from_error(exc)
