"""The merged Task instances list: one page of the task instances of every enabled server, newest
run first.

Like the Runs list (:mod:`console.services.run_list`), each server is asked once per page:
``GET /dags/~/dagRuns/~/taskInstances`` with the filters pushed down (``state``, ``pool``,
``queue``, ``dag_id_pattern``, ``duration_gte``, ``run_after_gte``/``run_after_lt``),
``order_by=-run_after``, ``limit = page * per_page`` from offset 0; the windows are merged here
and the page is cut.  It reaches ``MAX_WINDOW`` task instances deep per server; past that the page
asks to narrow the filters.  Each answer goes through the read cache as a server-wide list window,
kept only briefly while a task instance in it can still change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from console.airflow.dag_views import BATCH_PAGE
from console.airflow.registry import enabled_servers
from console.airflow.task_views import TaskInstanceFilter
from console.models.states import TaskInstanceState
from console.services.dag_list import cached_fan_out
from console.services.run_list import MAX_DAG_PATTERN, PER_PAGE_CHOICES, BadRunQuery, _int, _moment
from console.services.server_clients import ServerFailure

if TYPE_CHECKING:
    from console.airflow.client import AirflowClient, TaskInstanceInfo, TaskInstancesPage
    from console.models import AirflowServer

MAX_WINDOW = BATCH_PAGE
STATES = tuple(s.value for s in TaskInstanceState)
MAX_NAME = 256
#: The query args of the list, in the order of its form.
ARGS = ("server", "dag", "state", "pool", "queue", "min_duration", "from", "to")

BadTaskInstanceQuery = BadRunQuery


@dataclass(frozen=True)
class TaskInstanceQuery:
    """The list's filters and page, as in the URL's query args (``from_args`` validates)."""

    server: str = ""
    dag: str = ""
    state: str = ""
    pool: str = ""
    queue: str = ""
    min_duration: float | None = None
    start: datetime | None = None
    end: datetime | None = None
    page: int = 1
    per_page: int = PER_PAGE_CHOICES[0]
    raw: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_args(cls, args: Any, servers: list[str]) -> TaskInstanceQuery:
        """Read ``request.args``; raise :class:`BadTaskInstanceQuery` on any unusable value."""
        raw = {name: (args.get(name) or "").strip() for name in ARGS}
        if raw["server"] and raw["server"] not in servers:
            raise BadTaskInstanceQuery(f"There is no enabled Airflow server named {raw['server']!r}.")
        if raw["state"] and raw["state"] not in STATES:
            raise BadTaskInstanceQuery(f"{raw['state']!r} is not a task state; use one of {', '.join(STATES)}.")
        if len(raw["dag"]) > MAX_DAG_PATTERN:
            raise BadTaskInstanceQuery(f"The DAG filter is longer than {MAX_DAG_PATTERN} characters.")
        for name in ("pool", "queue"):
            if len(raw[name]) > MAX_NAME:
                raise BadTaskInstanceQuery(f"The {name} filter is longer than {MAX_NAME} characters.")
        min_duration = None
        if raw["min_duration"]:
            try:
                min_duration = float(raw["min_duration"])
            except ValueError:
                min_duration = -1.0
            if not 0 <= min_duration < 10**9:
                raise BadTaskInstanceQuery(
                    f"'min_duration' must be a number of seconds, 0 or more, not {raw['min_duration'][:20]!r}."
                )
        start, end = _moment(raw["from"], "from", end=False), _moment(raw["to"], "to", end=True)
        if start and end and start >= end:
            raise BadTaskInstanceQuery("The 'from' date must be before the 'to' date.")
        per_page = _int(args.get("per_page"), "per_page", PER_PAGE_CHOICES[0])
        if per_page not in PER_PAGE_CHOICES:
            raise BadTaskInstanceQuery(f"'per_page' must be one of {', '.join(map(str, PER_PAGE_CHOICES))}.")
        page = _int(args.get("page"), "page", 1)
        if page < 1:
            raise BadTaskInstanceQuery("'page' must be 1 or more.")
        if page * per_page > MAX_WINDOW:
            raise BadTaskInstanceQuery(
                f"The list reaches the newest {MAX_WINDOW} task instances of each server; "
                "narrow the filters (DAG, state, dates) to see older ones."
            )
        return cls(
            raw["server"],
            raw["dag"],
            raw["state"],
            raw["pool"],
            raw["queue"],
            min_duration,
            start,
            end,
            page,
            per_page,
            tuple(raw.items()),
        )

    def task_filter(self) -> TaskInstanceFilter:
        return TaskInstanceFilter(
            state=self.state or None,
            pool=self.pool or None,
            queue=self.queue or None,
            dag_id_pattern=self.dag or None,
            duration_gte=self.min_duration,
            run_after_gte=self.start,
            run_after_lt=self.end,
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query args of this query with ``changes`` (for paging links), empty ones left out."""
        out: dict[str, Any] = dict(self.raw)
        out["per_page"] = self.per_page if self.per_page != PER_PAGE_CHOICES[0] else ""
        out["page"] = self.page if self.page != 1 else ""
        out.update(changes)
        return {k: v for k, v in out.items() if v not in ("", None)}


@dataclass(frozen=True)
class TaskInstanceRow:
    server_id: int
    server_name: str
    info: TaskInstanceInfo

    @property
    def at(self) -> datetime:
        moment = self.info.run_after or self.info.ti.start_date or datetime.min
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class TaskInstanceListing:
    rows: list[TaskInstanceRow]
    total: int
    page: int
    pages: int
    reachable_pages: int
    query: TaskInstanceQuery
    failures: list[ServerFailure]


def _settled(answer: Any) -> bool:
    return all(i.ti.state in TaskInstanceState.FINAL for i in getattr(answer, "items", []))


def _window(client: AirflowClient, task_filter: TaskInstanceFilter, limit: int) -> TaskInstancesPage:
    return client.task_instances_page(task_filter, limit=limit, offset=0)


def list_task_instances(query: TaskInstanceQuery) -> TaskInstanceListing:
    """One page of the merged task instances of every enabled server (or the one
    ``query.server`` names), newest run first: one Airflow call per server at most."""
    servers: list[AirflowServer] = [s for s in enabled_servers() if not query.server or s.name == query.server]
    task_filter = query.task_filter()
    limit = query.page * query.per_page
    windows = cached_fan_out(
        servers,
        ("all-task-instances", repr(task_filter), limit),
        lambda _sid, _name, client: partial(_window, client, task_filter, limit),
        settled=_settled,
    )
    rows: list[TaskInstanceRow] = []
    failures: list[ServerFailure] = []
    total = 0
    for server in servers:
        result = windows[server.id]
        if isinstance(result, ServerFailure):
            failures.append(result)
            continue
        rows.extend(TaskInstanceRow(server.id, server.name, info) for info in result.items)
        total += result.total
    rows.sort(
        key=lambda r: (r.at, r.server_name, r.info.ti.dag_id, r.info.ti.run_id, r.info.ti.task_id, r.info.ti.map_index),
        reverse=True,
    )
    pages = max(1, -(-total // query.per_page))
    start = (query.page - 1) * query.per_page
    return TaskInstanceListing(
        rows=rows[start : start + query.per_page],
        total=total,
        page=query.page,
        pages=pages,
        reachable_pages=min(pages, MAX_WINDOW // query.per_page),
        query=query,
        failures=failures,
    )
