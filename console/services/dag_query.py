"""The merged DAG list's rows, and their search, filters, sorting and paging: pure functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.airflow.client import Dag, DagRun


@dataclass(frozen=True)
class DagRow:
    """One DAG of one server in the merged list, with its latest run."""

    server_id: int
    server_name: str
    dag: Dag
    last_run: DagRun | None

    @property
    def key(self) -> str:
        """``"<server id>:<dag id>"``, the value of the bulk-action checkbox."""
        return f"{self.server_id}:{self.dag.dag_id}"

    @property
    def last_run_at(self) -> datetime | None:
        run = self.last_run
        return None if run is None else (run.run_after or run.start_date or run.logical_date)

    @property
    def last_state(self) -> str | None:
        return None if self.last_run is None else self.last_run.state


SORTS: dict[str, Callable[[DagRow], Any]] = {
    "server": lambda r: r.server_name.lower(),
    "dag": lambda r: r.dag.dag_id.lower(),
    "name": lambda r: r.dag.dag_display_name.lower(),
    "paused": lambda r: r.dag.is_paused,
    "owners": lambda r: ",".join(r.dag.owners).lower() or None,
    "last_run": lambda r: r.last_run_at,
    "state": lambda r: r.last_state,
    "next_run": lambda r: r.dag.next_dagrun_run_after,
}
PER_PAGE_CHOICES = (25, 50, 100)
NEVER_RAN = "none"


def _int_arg(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw not in (None, "") else default
    except ValueError:
        return default


@dataclass(frozen=True)
class DagQuery:
    """Search, filters, sorting and paging of the merged list, as in the URL's query args."""

    search: str = ""
    server: str = ""
    tag: str = ""
    paused: str = ""  # "", "paused" or "active"
    state: str = ""  # a run state, NEVER_RAN, or ""
    sort: str = "dag"
    desc: bool = False
    page: int = 1
    per_page: int = PER_PAGE_CHOICES[0]

    @classmethod
    def from_args(cls, args: Any) -> DagQuery:
        """Read ``request.args``; anything invalid falls back to its default."""
        per_page = _int_arg(args.get("per_page"), PER_PAGE_CHOICES[0])
        return cls(
            search=(args.get("q") or "").strip(),
            server=args.get("server") or "",
            tag=args.get("tag") or "",
            paused=args.get("paused") if args.get("paused") in ("paused", "active") else "",
            state=args.get("state") or "",
            sort=args.get("sort") if args.get("sort") in SORTS else "dag",
            desc=args.get("desc") == "1",
            page=max(1, _int_arg(args.get("page"), 1)),
            per_page=per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0],
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query args for a link to this list with ``changes``; defaults left out."""
        values = {
            "q": self.search,
            "server": self.server,
            "tag": self.tag,
            "paused": self.paused,
            "state": self.state,
            "sort": self.sort,
            "desc": "1" if self.desc else "",
            "page": self.page,
            "per_page": self.per_page,
        }
        values.update(changes)
        defaults = {"sort": "dag", "page": 1, "per_page": PER_PAGE_CHOICES[0]}
        return {k: v for k, v in values.items() if v not in ("", None, False) and defaults.get(k) != v}

    def sort_args(self, column: str) -> dict[str, Any]:
        """Args for a column header: sort by it, or flip the direction if it already sorts."""
        return self.args(sort=column, desc="1" if column == self.sort and not self.desc else "", page=1)

    def matches(self, row: DagRow) -> bool:
        dag = row.dag
        if self.server and row.server_name != self.server:
            return False
        if self.tag and self.tag not in dag.tags:
            return False
        if self.paused and dag.is_paused != (self.paused == "paused"):
            return False
        if self.state and (row.last_state or NEVER_RAN) != self.state:
            return False
        if self.search:
            needle = self.search.lower()
            haystack = (dag.dag_id, dag.dag_display_name, dag.description or "", *dag.owners)
            return any(needle in text.lower() for text in haystack)
        return True


def order_rows(rows: list[DagRow], query: DagQuery) -> list[DagRow]:
    """``rows`` sorted by ``query`` (empty values last either way, then by DAG id and server)."""
    key = SORTS[query.sort]
    valued = [r for r in rows if key(r) is not None]
    empty = [r for r in rows if key(r) is None]
    tie = SORTS["dag"]
    valued.sort(key=lambda r: (key(r), tie(r), r.server_name), reverse=query.desc)
    empty.sort(key=lambda r: (tie(r), r.server_name))
    return valued + empty


def select_rows(rows: list[DagRow], query: DagQuery) -> tuple[list[DagRow], int, int, int]:
    """Filter, sort (empty values last either way) and cut one page: ``(page_rows, total, page, pages)``."""
    ordered = order_rows([r for r in rows if query.matches(r)], query)
    pages = max(1, -(-len(ordered) // query.per_page))
    page = min(query.page, pages)
    start = (page - 1) * query.per_page
    return ordered[start : start + query.per_page], len(ordered), page, pages
