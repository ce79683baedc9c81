"""The merged Runs list: one page of the DAG runs of every enabled server, newest first.

Each server is asked once per page: ``GET /dags/~/dagRuns`` with the filters pushed down
(``state``, ``run_type``, ``dag_id_pattern``, ``run_after_gte``/``run_after_lt`` as aware UTC
datetimes), ``order_by=-run_after``, ``limit = page * per_page`` from offset 0, and the count from
``total_entries``.  The windows are merged by ``run_after`` here and the page is cut, as the DAG
list does (:mod:`console.services.dag_list`).  Airflow never returns more than 100 rows per
request, so the list reaches ``MAX_WINDOW`` runs deep (4 pages of 25, 2 of 50); past that the page
asks to narrow the filters instead of making more calls (``docs/PERFORMANCE.md``).

Each server's answer goes through the read cache as a server-wide list window (kind ``dag_list``,
so a change made through the console drops it); a window that holds a run still queued or
running is kept only briefly (``settled=``), like a DAG's own runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from console.airflow.dag_views import BATCH_PAGE, RunFilter
from console.airflow.registry import enabled_servers
from console.models.states import DagRunState, DagRunType
from console.services.dag_list import cached_fan_out
from console.services.dag_reads import settled
from console.services.server_clients import ServerFailure

if TYPE_CHECKING:
    from console.airflow.client import AirflowClient, DagRun, RunsPage
    from console.models import AirflowServer

PER_PAGE_CHOICES = (25, 50)
#: The deepest a merged page reaches: one request per server, Airflow's page size.
MAX_WINDOW = BATCH_PAGE
STATES = tuple(s.value for s in DagRunState)
RUN_TYPES = tuple(t.value for t in DagRunType)
MAX_DAG_PATTERN = 250


class BadRunQuery(ValueError):
    """A filter value the Runs list cannot use; the message says which and why."""


def _moment(raw: str, name: str, *, end: bool) -> datetime | None:
    """A ``YYYY-MM-DD`` date (UTC; an end date includes its whole day) or an ISO date and time
    (UTC unless it has a zone), as an aware UTC datetime."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRunQuery(f"{name!r} must be a date (YYYY-MM-DD) or a date and time in UTC, not {raw!r}.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _int(raw: str | None, name: str, default: int) -> int:
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRunQuery(f"{name!r} must be a whole number, not {raw!r}.") from None


@dataclass(frozen=True)
class RunQuery:
    """The Runs list's filters and page, as in the URL's query args (``from_args`` validates)."""

    server: str = ""
    dag: str = ""
    state: str = ""
    run_type: str = ""
    start: datetime | None = None
    end: datetime | None = None
    page: int = 1
    per_page: int = PER_PAGE_CHOICES[0]
    #: The raw ``from``/``to`` args, to refill the form.
    start_arg: str = ""
    end_arg: str = ""

    @classmethod
    def from_args(cls, args: Any, servers: list[str]) -> RunQuery:
        """Read ``request.args``; raise :class:`BadRunQuery` on any value that is not usable."""
        server = (args.get("server") or "").strip()
        if server and server not in servers:
            raise BadRunQuery(f"There is no enabled Airflow server named {server!r}.")
        state = (args.get("state") or "").strip()
        if state and state not in STATES:
            raise BadRunQuery(f"{state!r} is not a run state; use one of {', '.join(STATES)}.")
        run_type = (args.get("run_type") or "").strip()
        if run_type and run_type not in RUN_TYPES:
            raise BadRunQuery(f"{run_type!r} is not a run type; use one of {', '.join(RUN_TYPES)}.")
        dag = (args.get("dag") or "").strip()
        if len(dag) > MAX_DAG_PATTERN:
            raise BadRunQuery(f"The DAG filter is longer than {MAX_DAG_PATTERN} characters.")
        start_arg, end_arg = (args.get("from") or "").strip(), (args.get("to") or "").strip()
        start, end = _moment(start_arg, "from", end=False), _moment(end_arg, "to", end=True)
        if start and end and start >= end:
            raise BadRunQuery("The 'from' date must be before the 'to' date.")
        per_page = _int(args.get("per_page"), "per_page", PER_PAGE_CHOICES[0])
        if per_page not in PER_PAGE_CHOICES:
            raise BadRunQuery(f"'per_page' must be one of {', '.join(map(str, PER_PAGE_CHOICES))}.")
        page = _int(args.get("page"), "page", 1)
        if page < 1:
            raise BadRunQuery("'page' must be 1 or more.")
        if page * per_page > MAX_WINDOW:
            raise BadRunQuery(
                f"The list reaches the newest {MAX_WINDOW} runs of each server; "
                "narrow the filters (DAG, state, dates) to see older ones."
            )
        return cls(server, dag, state, run_type, start, end, page, per_page, start_arg, end_arg)

    def run_filter(self) -> RunFilter:
        return RunFilter(
            state=self.state or None,
            run_type=self.run_type or None,
            run_after_gte=self.start,
            run_after_lt=self.end,
            dag_id_pattern=self.dag or None,
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query args of this query with ``changes`` (for paging links), empty ones left out."""
        out = {
            "server": self.server,
            "dag": self.dag,
            "state": self.state,
            "run_type": self.run_type,
            "from": self.start_arg,
            "to": self.end_arg,
            "per_page": self.per_page if self.per_page != PER_PAGE_CHOICES[0] else "",
            "page": self.page if self.page != 1 else "",
        }
        out.update(changes)
        return {k: v for k, v in out.items() if v not in ("", None)}


@dataclass(frozen=True)
class RunRow:
    """One run of one server in the merged list."""

    server_id: int
    server_name: str
    run: DagRun

    @property
    def at(self) -> datetime:
        run = self.run
        moment = run.run_after or run.start_date or run.logical_date or datetime.min
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class RunListing:
    rows: list[RunRow]
    total: int
    page: int
    pages: int
    reachable_pages: int
    query: RunQuery
    failures: list[ServerFailure]
    servers: list[str]


def _window(client: AirflowClient, run_filter: RunFilter, limit: int) -> RunsPage:
    return client.dag_runs_page("~", run_filter, limit=limit, offset=0)


def _windows(servers: list[AirflowServer], run_filter: RunFilter, limit: int) -> dict[int, Any]:
    """Each server's window (or why it has none): cached, else one call per server, in parallel."""
    return cached_fan_out(
        servers,
        ("all-runs", repr(run_filter), limit),
        lambda _sid, _name, client: partial(_window, client, run_filter, limit),
        settled=settled,
    )


def list_runs(query: RunQuery) -> RunListing:
    """One page of the merged runs of every enabled server (or the one ``query.server`` names),
    newest first: one ``GET /dags/~/dagRuns`` per server at most."""
    every = enabled_servers()
    servers = [s for s in every if not query.server or s.name == query.server]
    windows = _windows(servers, query.run_filter(), query.page * query.per_page)
    rows: list[RunRow] = []
    failures: list[ServerFailure] = []
    total = 0
    for server in servers:
        result = windows[server.id]
        if isinstance(result, ServerFailure):
            failures.append(result)
            continue
        rows.extend(RunRow(server.id, server.name, run) for run in result.runs)
        total += result.total
    rows.sort(key=lambda r: (r.at, r.server_name, r.run.dag_id, r.run.run_id), reverse=True)
    pages = max(1, -(-total // query.per_page))
    start = (query.page - 1) * query.per_page
    return RunListing(
        rows=rows[start : start + query.per_page],
        total=total,
        page=query.page,
        pages=pages,
        reachable_pages=min(pages, MAX_WINDOW // query.per_page),
        query=query,
        failures=failures,
        servers=[s.name for s in every],
    )


def server_names() -> list[str]:
    """The names of the enabled servers, for the server filter."""
    return [s.name for s in enabled_servers()]


def last_day_args(state: str, now: datetime | None = None, hours: int = 24) -> dict[str, str]:
    """The query args of the runs of ``state`` over the last ``hours`` (to the minute, UTC)."""
    since = (now or datetime.now(UTC)).astimezone(UTC) - timedelta(hours=hours)
    return {"state": state, "from": since.strftime("%Y-%m-%dT%H:%M")}
