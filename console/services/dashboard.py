"""The home page: what an on-call operator needs in the first five seconds, across every enabled
server, at a number of Airflow calls per server that does not grow with its DAGs or runs.

Per server and cold cache (``docs/PERFORMANCE.md``, "Airflow calls per view"): the health, the
version, three DAG counts (``limit=1``: all, paused, with import errors), one window of import
errors, two counts of runs now (running, queued), four counts of runs in the last 24 h (one per
state), the newest failed task instances, and the newest runs of the last 7 days in pages of
100, at most ``DASHBOARD_MAX_RUNS`` of them (the charts say so when the cap is hit).  Each
server's answer is cached through :func:`_server_summaries`; a server that is down or slow comes
back as a :class:`ServerFailure` beside the others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from flask import current_app

from console.airflow.registry import enabled_servers
from console.airflow.windows import DagFilter
from console.models.states import DagRunState
from console.models.timeutil import utcnow
from console.services import dashboard_charts, dashboard_console, health, settings
from console.services.dag_list import cached_fan_out
from console.services.server_clients import ServerFailure

if TYPE_CHECKING:
    from console.airflow.client import AirflowClient, DagImportError, DagRun, TaskInstance
    from console.models import AirflowServer

#: How many failures and import errors the page lists.
LISTED = 10
#: The run states counted over the last 24 hours, in the order the page shows them.
RUN_STATES = (DagRunState.FAILED, DagRunState.RUNNING, DagRunState.QUEUED, DagRunState.SUCCESS)
#: How many calls to one server the dashboard makes at once.
PARALLEL = 4
#: The components of Airflow's ``/monitor/health``, in the order the page shows them.
COMPONENTS = ("scheduler", "triggerer", "dag_processor", "metadatabase")


@dataclass(frozen=True)
class ServerSummary:
    """What one server said, and when (naive UTC)."""

    server_id: int
    server_name: str
    fetched_at: datetime
    health: dict[str, str | None]
    version: str | None
    dags_total: int
    dags_paused: int
    dags_with_errors: int
    import_errors: list[DagImportError]
    import_error_files: int
    running_now: int
    queued_now: int
    runs_24h: dict[str, int]
    runs: list[DagRun]
    runs_total: int
    failed_tasks: list[TaskInstance]


def summarise(server_id: int, server_name: str, client: AirflowClient, max_runs: int) -> ServerSummary:
    """One server's summary: a fixed number of calls (see the module docstring), ``PARALLEL`` at
    a time; the first :class:`~console.airflow.errors.AirflowError` is raised."""
    now = utcnow()
    day, week = now - timedelta(hours=24), now - timedelta(days=7)
    calls: dict[str, Callable[[], Any]] = {
        "health": client.health,
        "version": client.version,
        "errors": partial(client.import_error_window, limit=LISTED),
        "sample": partial(client.runs_since, week, max_runs=max_runs),
        "total": client.count_dags,
        "paused": partial(client.count_dags, DagFilter(paused=True)),
        "broken": partial(client.count_dags, DagFilter(has_import_errors=True)),
        "running": partial(client.count_runs, state=DagRunState.RUNNING),
        "queued": partial(client.count_runs, state=DagRunState.QUEUED),
        "failed_tasks": partial(client.failed_task_instances, week, limit=LISTED),
        **{f"day:{state}": partial(client.count_runs, state=state, since=day) for state in RUN_STATES},
    }
    pool = ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="dashboard")
    try:
        futures = {name: pool.submit(call) for name, call in calls.items()}
        got = {name: future.result() for name, future in futures.items()}
    finally:  # after the first failure, the calls not yet started are dropped
        pool.shutdown(wait=False, cancel_futures=True)
    return ServerSummary(
        server_id=server_id,
        server_name=server_name,
        fetched_at=now,
        health=got["health"],
        version=got["version"].get("version"),
        dags_total=got["total"],
        dags_paused=got["paused"],
        dags_with_errors=got["broken"],
        import_errors=got["errors"].errors,
        import_error_files=got["errors"].total,
        running_now=got["running"],
        queued_now=got["queued"],
        runs_24h={state: got[f"day:{state}"] for state in RUN_STATES},
        runs=got["sample"].runs,
        runs_total=got["sample"].total,
        failed_tasks=got["failed_tasks"],
    )


def _server_summaries(servers: list[AirflowServer]) -> dict[int, ServerSummary | ServerFailure]:
    """Each server's summary, through the cache: the one place the dashboard touches it."""
    max_runs = int(current_app.config["DASHBOARD_MAX_RUNS"])
    return cached_fan_out(
        servers,
        f"dashboard:{max_runs}",
        lambda sid, name, client: partial(summarise, sid, name, client, max_runs),
        float(current_app.config["DASHBOARD_DEADLINE_SECONDS"]),
    )


@dataclass(frozen=True)
class ServerCard:
    """One server's health line: up with its components and version, or down and why."""

    server_id: int
    name: str
    up: bool
    reason: str = ""
    version: str | None = None
    components: list[tuple[str, str]] = field(default_factory=list)
    fetched_at: datetime | None = None

    @property
    def healthy(self) -> bool:
        return self.up and all(status == "healthy" for _name, status in self.components)


@dataclass(frozen=True)
class FailedTask:
    server_id: int
    server_name: str
    task: TaskInstance


@dataclass(frozen=True)
class ImportProblem:
    server_name: str
    error: DagImportError


@dataclass
class Dashboard:
    """What the home page shows, merged across servers."""

    generated_at: datetime
    refresh_seconds: int
    servers: list[ServerCard] = field(default_factory=list)
    dags_total: int = 0
    dags_paused: int = 0
    dags_with_errors: int = 0
    import_error_files: int = 0
    running_now: int = 0
    queued_now: int = 0
    runs_24h: dict[str, int] = field(default_factory=dict)
    failed_tasks: list[FailedTask] = field(default_factory=list)
    import_errors: list[ImportProblem] = field(default_factory=list)
    charts: dict[str, Any] = field(default_factory=dict)
    runs_capped: list[str] = field(default_factory=list)
    max_runs: int = 0
    console: dashboard_console.ConsoleSide | None = None
    scheduler: dict[str, Any] = field(default_factory=dict)

    @property
    def dags_active(self) -> int:
        return self.dags_total - self.dags_paused

    @property
    def airflow_unknown(self) -> bool:
        """Servers are enabled but none answered: the Airflow counts are unknown, not zero."""
        return bool(self.servers) and not any(s.up for s in self.servers)

    @property
    def oldest_data(self) -> datetime:
        """When the oldest server answer shown was fetched (the page's data age)."""
        moments = [s.fetched_at for s in self.servers if s.fetched_at is not None]
        return min(moments, default=self.generated_at)


def _card(server: AirflowServer, summary: ServerSummary | ServerFailure) -> ServerCard:
    if isinstance(summary, ServerFailure):
        return ServerCard(server.id, server.name, up=False, reason=summary.reason)
    components = [(name, summary.health.get(name) or "unknown") for name in COMPONENTS]
    components += [(n, s or "unknown") for n, s in summary.health.items() if n not in COMPONENTS]
    return ServerCard(
        server.id, server.name, up=True, version=summary.version, components=components, fetched_at=summary.fetched_at
    )


def build() -> Dashboard:
    """The dashboard of every enabled server; a server that cannot answer shows as down."""
    servers = enabled_servers()
    summaries = _server_summaries(servers)
    board = Dashboard(
        generated_at=utcnow(),
        refresh_seconds=int(settings.value("dashboard_refresh_seconds")),
        max_runs=int(current_app.config["DASHBOARD_MAX_RUNS"]),
    )
    runs_24h: Counter[str] = Counter({state: 0 for state in RUN_STATES})
    answered: list[ServerSummary] = []
    for server in servers:
        summary = summaries[server.id]
        board.servers.append(_card(server, summary))
        if isinstance(summary, ServerFailure):
            continue
        answered.append(summary)
        board.dags_total += summary.dags_total
        board.dags_paused += summary.dags_paused
        board.dags_with_errors += summary.dags_with_errors
        board.import_error_files += summary.import_error_files
        board.running_now += summary.running_now
        board.queued_now += summary.queued_now
        runs_24h.update(summary.runs_24h)
        if summary.runs_total > len(summary.runs):
            board.runs_capped.append(server.name)
        board.failed_tasks += [FailedTask(server.id, server.name, t) for t in summary.failed_tasks]
        board.import_errors += [ImportProblem(server.name, e) for e in summary.import_errors]
    board.runs_24h = dict(runs_24h)
    board.failed_tasks = sorted(board.failed_tasks, key=_ended, reverse=True)[:LISTED]
    board.import_errors = board.import_errors[:LISTED]
    runs = [(s.server_id, s.server_name, run) for s in answered for run in s.runs]
    board.charts = dashboard_charts.build(runs, board.generated_at)
    board.console = dashboard_console.console_side(board.generated_at, listed=LISTED)
    board.scheduler = health.scheduler_status()
    return board


def _ended(failed: FailedTask) -> float:
    moment = failed.task.end_date or failed.task.start_date
    return moment.timestamp() if moment else 0.0
