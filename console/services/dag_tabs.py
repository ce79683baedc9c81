"""What every tab of a DAG shares (:class:`TabPage`, :func:`read_into`), the code and runs tabs,
and the query of the runs tab.

Code: the DAG's details (file path, last parse) and its source as Airflow stores it (2 calls).
Runs: the DAG's details and one filtered page of its runs (2 calls); a filter that does not
parse is refused before Airflow is asked, with a message naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from console.airflow.dag_views import RunFilter
from console.airflow.errors import AirflowError, AirflowNotFound
from console.models.states import DagRunState, DagRunType
from console.services.dag_reads import DagReads
from console.services.server_clients import ServerFailure, resolve_server

if TYPE_CHECKING:
    from console.airflow.client import DagDetails, DagRun, DagSource
    from console.services.server_clients import ServerHandle

#: Runs per page of the runs tab.
RUNS_PER_PAGE = 25
#: Pages beyond this are refused (offset = 100,000 runs).
MAX_RUNS_PAGE = 4000


@dataclass(frozen=True)
class RunQuery:
    """The runs tab's filters and page, as the query string gave them."""

    state: str = ""
    run_type: str = ""
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> tuple[RunQuery, list[str]]:
        """The query, and a message for each argument that is not valid (that filter is then
        left out; the caller shows the messages and asks Airflow nothing)."""
        errors: list[str] = []
        state = (args.get("state") or "").strip()
        if state and state not in DagRunState._value2member_map_:
            errors.append(f"Unknown run state {state!r}: choose one of {', '.join(DagRunState)}.")
            state = ""
        run_type = (args.get("run_type") or "").strip()
        if run_type and run_type not in DagRunType._value2member_map_:
            errors.append(f"Unknown run type {run_type!r}: choose one of {', '.join(DagRunType)}.")
            run_type = ""
        dates: dict[str, date | None] = {}
        for name, label in (("from", "From"), ("to", "To")):
            raw = (args.get(name) or "").strip()
            try:
                dates[name] = date.fromisoformat(raw) if raw else None
            except ValueError:
                errors.append(f"{label} date {raw[:40]!r} is not a date: use YYYY-MM-DD.")
                dates[name] = None
        if dates["from"] and dates["to"] and dates["from"] > dates["to"]:
            errors.append("The from date is after the to date.")
        raw_page = (args.get("page") or "1").strip()
        page = int(raw_page) if raw_page.isdigit() else 0
        if not 1 <= page <= MAX_RUNS_PAGE:
            errors.append(f"Page {raw_page[:20]!r} is not a page number between 1 and {MAX_RUNS_PAGE}.")
            page = 1
        return cls(state, run_type, dates["from"], dates["to"], page), errors

    def run_filter(self) -> RunFilter:
        """Airflow's filter: ``run_after`` from the start of ``date_from`` up to the end of
        ``date_to`` (UTC days)."""

        def midnight(day: date) -> datetime:
            return datetime(day.year, day.month, day.day, tzinfo=UTC)

        return RunFilter(
            state=self.state or None,
            run_type=self.run_type or None,
            run_after_gte=midnight(self.date_from) if self.date_from else None,
            run_after_lt=midnight(self.date_to) + timedelta(days=1) if self.date_to else None,
        )

    def args(self, **changes: object) -> dict[str, object]:
        """Query-string arguments for a link to this query with ``changes`` (e.g. ``page=2``)."""
        values: dict[str, object] = {
            "state": self.state,
            "run_type": self.run_type,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "page": self.page,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v != "" and not (k == "page" and v == 1)}


@dataclass
class TabPage:
    """What every tab shows in its header (the DAG's details), and why Airflow did not answer."""

    server: ServerHandle
    dag_id: str
    dag: DagDetails | None = None
    failure: ServerFailure | None = None
    not_found: bool = False


Page = TypeVar("Page", bound=TabPage)


def read_into(page: Page, read: Callable[[DagReads], None]) -> Page:
    """``read(reads)`` fills ``page`` from the DAG's cached reads; a DAG Airflow does not have sets ``not_found`` (when
    the details were not read), any other failure ``failure``, kept next to what was read."""
    try:
        read(DagReads(page.server.id, page.server.client, page.dag_id))
    except AirflowNotFound:
        page.not_found = page.dag is None
    except AirflowError as exc:
        page.failure = ServerFailure.from_error(exc)
    return page


@dataclass
class CodePage(TabPage):
    source: DagSource | None = None


@dataclass
class RunsPage(TabPage):
    query: RunQuery = field(default_factory=RunQuery)
    errors: list[str] = field(default_factory=list)
    runs: list[DagRun] = field(default_factory=list)
    total: int = 0

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // RUNS_PER_PAGE))


def load_code(server_id: int, dag_id: str) -> CodePage:
    page = CodePage(resolve_server(server_id), dag_id)

    def read(reads: DagReads) -> None:
        page.dag = reads.details()
        page.source = reads.source()

    return read_into(page, read)


def load_runs(server_id: int, dag_id: str, args: Mapping[str, str]) -> RunsPage:
    """One page of runs matching the query in ``args``; with ``errors`` (and no runs) when the
    query does not parse."""
    query, errors = RunQuery.from_args(args)
    page = RunsPage(resolve_server(server_id), dag_id, query=query, errors=errors)

    def read(reads: DagReads) -> None:
        page.dag = reads.details()
        if not errors:
            offset = (query.page - 1) * RUNS_PER_PAGE
            found = reads.runs_page(query.run_filter(), limit=RUNS_PER_PAGE, offset=offset)
            page.runs, page.total = found.runs, found.total

    return read_into(page, read)
