"""Reading DAGs across every enabled Airflow server: the merged list, one DAG, one run.

Nothing here raises :class:`~console.airflow.errors.AirflowError`: a server
that is down, slow or refuses the credentials comes back as a
:class:`~console.services.server_clients.ServerFailure` next to the data of the
servers that answered.  The actions that change Airflow live in
:mod:`console.services.dag_actions`.

The merged list lives in :mod:`console.services.dag_list` (re-exported here): every server is
asked in parallel (one thread per server, each call bounded by the server's own timeouts and the
whole fan-out by ``DAGS_FANOUT_DEADLINE_SECONDS``) for one bounded window.  Every read here goes
through the read cache (:mod:`console.services.read_cache`): lists per server and query, one
DAG's details and runs per DAG; a write through the console drops exactly the DAG it changed
and its server's lists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from flask import current_app

from console.airflow.errors import AirflowError, AirflowNotFound
from console.airflow.registry import enabled_servers
from console.models.states import DagRunState
from console.services.dag_list import DagListing as DagListing
from console.services.dag_list import as_result, cached_fan_out, remember_status, status_key
from console.services.dag_list import list_dags as list_dags
from console.services.dag_reads import settled
from console.services.read_cache import cached, read_cache
from console.services.read_cache import invalidate as invalidate
from console.services.server_clients import ServerFailure, ServerHandle, client_or_failure, fan_out, resolve_server

if TYPE_CHECKING:
    from console.airflow.client import AirflowClient, Dag, DagDetails, DagRun, TaskInstance
    from console.models import AirflowServer

T = TypeVar("T")
RECENT_RUNS = 25


def server_dags(server: AirflowServer) -> list[Dag] | ServerFailure:
    """Every DAG of ``server`` (enabled or not: the caller chooses; for the task form's DAG
    choice), or why it cannot list them; cached and bounded like the merged list."""
    return cached_fan_out([server], "all", lambda _sid, _name, client: client.list_dags)[server.id]


def server_dag_details(server: AirflowServer, dag_id: str) -> DagDetails | ServerFailure:
    """``dag_id``'s details (its params) on ``server``, or why they cannot be read, within
    ``DAGS_FANOUT_DEADLINE_SECONDS``."""
    client = client_or_failure(server)
    if isinstance(client, ServerFailure):
        return client
    deadline = float(current_app.config["DAGS_FANOUT_DEADLINE_SECONDS"])
    store = read_cache()
    key = store.key("dag_detail", server.id, ("details", dag_id), dag_id)
    call = partial(store.get_or_load, key, "dag_detail", partial(client.get_dag_details, dag_id))
    return fan_out({server.id: (server.name, call)}, deadline)[server.id]


def other_server_failures(exclude_server_id: int | None = None) -> list[ServerFailure]:
    """The enabled servers (but ``exclude_server_id``) that are failing now, for the
    banner on single-server screens.  Uses the cached list when there is one,
    else one ``version()`` call per server (read cache kind ``dag_status``)."""
    store = read_cache()
    out: dict[int, ServerFailure | None] = {}
    calls: dict[int, tuple[str, Callable[[], object]]] = {}
    servers = [s for s in enabled_servers() if s.id != exclude_server_id]
    for server in servers:
        known = store.peek(status_key(store, server.id))
        if known is not None:
            result = as_result(known)
            out[server.id] = result if isinstance(result, ServerFailure) else None
            continue
        client = client_or_failure(server)
        if isinstance(client, ServerFailure):
            out[server.id] = client
            continue
        calls[server.id] = (server.name, client.version)
    deadline = float(current_app.config["DAGS_STATUS_DEADLINE_SECONDS"])
    for sid, result in fan_out(calls, deadline).items():
        out[sid] = result if isinstance(result, ServerFailure) else None
        remember_status(store, sid, result)
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


def _read(server_id: int, dag_id: str, query: tuple[object, ...], loader: Callable[[], T]) -> T:
    """One read of ``dag_id``'s runs through the cache (dropped by a write to the DAG; kept only
    briefly while something in it is still running)."""
    return cached("runs", server_id, (dag_id, *query), loader, dag_id=dag_id, settled=settled)


def _details(server_id: int, client: AirflowClient, dag_id: str) -> DagDetails:
    return cached("dag_detail", server_id, ("details", dag_id), partial(client.get_dag_details, dag_id), dag_id=dag_id)


def _task_instances(server_id: int, client: AirflowClient, dag_id: str, run_id: str) -> list[TaskInstance]:
    return _read(server_id, dag_id, ("tasks", run_id), partial(client.list_task_instances, dag_id, run_id))


def load_dag(server_id: int, dag_id: str, run_id: str | None = None, runs: int = RECENT_RUNS) -> DagPage:
    """A DAG's details, its recent runs, and the task instances of run ``run_id`` (default: the
    newest); ``not_found`` if Airflow has no such DAG (an unknown ``run_id`` selects nothing)."""
    page = DagPage(resolve_server(server_id), dag_id)
    try:
        client = page.server.client
        page.dag = _details(server_id, client, dag_id)
        page.runs = _read(server_id, dag_id, ("runs", runs), partial(client.list_dag_runs, dag_id, limit=runs))
        page.selected = next((r for r in page.runs if r.run_id == run_id), None) if run_id else None
        if run_id and page.selected is None:
            page.selected = _read(server_id, dag_id, ("run", run_id), partial(client.get_dag_run, dag_id, run_id))
        page.selected = page.selected or (page.runs[0] if page.runs else None)
        if page.selected is not None:
            page.tasks = _task_instances(server_id, client, dag_id, page.selected.run_id)
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
        page.dag = cached("dag_detail", server_id, ("dag", dag_id), partial(client.get_dag, dag_id), dag_id=dag_id)
        page.run = _read(server_id, dag_id, ("run", run_id), partial(client.get_dag_run, dag_id, run_id))
        page.tasks = _task_instances(server_id, client, dag_id, run_id)
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
        return server, _details(server_id, server.client, dag_id), None
    except AirflowNotFound:
        return server, None, None
    except AirflowError as exc:
        return server, None, ServerFailure.from_error(exc)
