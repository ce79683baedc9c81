"""Backfills of one DAG: the Backfills tab (its backfills with their progress), the dry run, and
the audited create, pause, unpause and cancel.

The tab costs at most ``2 + BACKFILLS_PER_PAGE`` Airflow calls, whatever the number of backfills
and runs: the DAG's details, one page of its backfills (newest first), and per backfill shown one
page of its runs (:meth:`~console.airflow.client.AirflowClient.backfill_runs`, the first 100; the
counts say so when a backfill has more).  The reads go through the read cache (kind ``runs``,
keyed by the DAG, kept briefly while a backfill is active); every change through the console
drops them.

Every change is audited through :func:`~console.services.dag_actions.record_action` (actions
``backfill``, ``backfill.pause``, ``backfill.unpause``, ``backfill.cancel``), Airflow's refusals
too, and raises :class:`~console.services.dag_actions.DagActionError` with Airflow's reason when
refused.  A dry run changes nothing and is not audited.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.airflow.backfills import BACKFILL_CHANGES, Backfill, BackfillRequest
from console.airflow.errors import AirflowError, AirflowNotFound
from console.models.states import DagRunState
from console.services.dag_actions import DagActionError, _perform
from console.services.dag_reads import DagReads
from console.services.dag_tabs import TabPage, read_into
from console.services.errors import ServiceError
from console.services.read_cache import cached
from console.services.server_clients import resolve_server

if TYPE_CHECKING:
    from console.airflow.client import AirflowClient, DagDetails, RunsPage
    from console.services.server_clients import ServerHandle

#: Backfills per page of the tab.
BACKFILLS_PER_PAGE = 10
#: Pages beyond this are refused.
MAX_BACKFILLS_PAGE = 1000
#: The run states in the order the progress shows them.
PROGRESS_STATES = (DagRunState.QUEUED, DagRunState.RUNNING, DagRunState.SUCCESS, DagRunState.FAILED)
#: Audit action of each change.
ACTIONS = {"create": "backfill", **{change: f"backfill.{change}" for change in BACKFILL_CHANGES}}


class NotBackfillable(ServiceError):
    """The DAG cannot be backfilled (it has no schedule); ``str()`` says why."""


@dataclass(frozen=True)
class BackfillProgress:
    """One backfill and what its runs are doing."""

    backfill: Backfill
    runs_total: int
    by_state: dict[str, int]

    @property
    def counted(self) -> int:
        """How many runs ``by_state`` counts (the first 100 when there are more)."""
        return sum(self.by_state.values())

    @property
    def finished(self) -> int:
        return self.by_state.get(DagRunState.SUCCESS, 0) + self.by_state.get(DagRunState.FAILED, 0)

    @property
    def status(self) -> str:
        """``completed`` (finished or cancelled), ``paused`` or ``running``."""
        if self.backfill.completed_at is not None:
            return "completed"
        return "paused" if self.backfill.is_paused else "running"


def progress_of(backfill: Backfill, runs: RunsPage) -> BackfillProgress:
    counts = Counter(run.state for run in runs.runs)
    ordered = {state.value: counts.pop(state.value, 0) for state in PROGRESS_STATES}
    ordered.update(sorted(counts.items()))
    return BackfillProgress(backfill, runs.total, {k: v for k, v in ordered.items() if v})


def _settled(answer: Any) -> bool:
    progress, _total = answer
    return all(p.backfill.completed_at is not None and p.by_state.keys() <= DagRunState.FINAL for p in progress)


def _read_backfills(client: AirflowClient, dag_id: str, page: int) -> tuple[list[BackfillProgress], int]:
    found = client.list_backfills(dag_id, limit=BACKFILLS_PER_PAGE, offset=(page - 1) * BACKFILLS_PER_PAGE)
    return [progress_of(b, client.backfill_runs(b)) for b in found.backfills], found.total


@dataclass
class BackfillsPage(TabPage):
    """The Backfills tab."""

    page: int = 1
    backfills: list[BackfillProgress] = field(default_factory=list)
    total: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // BACKFILLS_PER_PAGE))

    @property
    def has_active(self) -> bool:
        return any(p.backfill.active for p in self.backfills)


def load_backfills(server_id: int, dag_id: str, raw_page: str = "1") -> BackfillsPage:
    """The DAG's backfills, newest first, one page; ``errors`` (and nothing read but the DAG) when
    the page number does not parse."""
    raw = (raw_page or "1").strip()
    number = int(raw) if raw.isdigit() else 0
    errors = [] if 1 <= number <= MAX_BACKFILLS_PAGE else [f"Page {raw[:20]!r} is not a page number."]
    page = BackfillsPage(resolve_server(server_id), dag_id, page=number if not errors else 1, errors=errors)

    def read(reads: DagReads) -> None:
        page.dag = reads.details()
        if errors:
            return
        loader = lambda: _read_backfills(reads.client, dag_id, page.page)  # noqa: E731
        page.backfills, page.total = cached(
            "runs", server_id, (dag_id, "backfills", page.page), loader, dag_id=dag_id, settled=_settled
        )

    return read_into(page, read)


@dataclass
class DryRun:
    """What the dry run of a backfill says: the logical dates of the runs it would create."""

    dag: DagDetails
    request: BackfillRequest
    logical_dates: list[datetime | None]


def check_backfillable(dag: DagDetails) -> None:
    """:class:`NotBackfillable` when ``dag`` has no schedule (Airflow would refuse)."""
    summary = (dag.timetable_summary or "").strip()
    if not summary or summary.lower() in ("none", "null"):
        raise NotBackfillable(
            f"DAG {dag.dag_id!r} has no schedule: a backfill creates the runs of a schedule, "
            "so there is nothing to backfill."
        )


class DagMissing(ServiceError):
    """The server has no such DAG (a 404 for the screens)."""


def dag_for_backfill(server_id: int, dag_id: str) -> tuple[ServerHandle, DagDetails]:
    """The server and the DAG's details, read fresh: :class:`DagMissing` when Airflow has no such
    DAG, :class:`DagActionError` when it cannot say."""
    server = resolve_server(server_id)
    try:
        return server, server.client.get_dag_details(dag_id)
    except AirflowNotFound:
        raise DagMissing(f"DAG {dag_id!r} does not exist on server {server.name!r}.") from None
    except AirflowError as exc:
        raise DagActionError(exc) from None


def dry_run(server_id: int, request: BackfillRequest) -> DryRun:
    """The runs the backfill would create; :class:`NotBackfillable` for a DAG without a schedule,
    :class:`DagActionError` with Airflow's reason when it refuses (a bad range, a conf the DAG's
    params reject...)."""
    server, dag = dag_for_backfill(server_id, request.dag_id)
    check_backfillable(dag)
    try:
        dates = server.client.backfill_dry_run(request)
    except AirflowError as exc:
        raise DagActionError(exc) from None
    return DryRun(dag, request, dates)


def create(actor: str, server_id: int, request: BackfillRequest) -> Backfill:
    """Create the backfill (audited as ``backfill``, refusals too, e.g. 409 when another backfill
    of the DAG is running)."""
    server = resolve_server(server_id)
    audited = request.to_dict()

    def call(client: AirflowClient) -> Backfill:
        backfill = client.create_backfill(request)
        audited["id"] = backfill.id  # written with the audit row, after the call
        return backfill

    return _perform(actor, ACTIONS["create"], server, request.dag_id, call, backfill=audited)


def change(actor: str, server_id: int, dag_id: str, backfill_id: int, what: str) -> Backfill:
    """Pause, unpause or cancel backfill ``backfill_id`` of ``dag_id`` (audited as
    ``backfill.<what>``).  A backfill of another DAG is refused before Airflow is asked to change it."""
    if what not in BACKFILL_CHANGES:
        raise ServiceError(f"Unknown backfill action {what[:20]!r}: use {', '.join(BACKFILL_CHANGES)}.")
    server = resolve_server(server_id)

    def call(client: AirflowClient) -> Backfill:
        if client.get_backfill(backfill_id).dag_id != dag_id:
            raise ServiceError(f"Backfill {backfill_id} is not a backfill of DAG {dag_id!r}.")
        return client.change_backfill(backfill_id, what)

    return _perform(actor, ACTIONS[what], server, dag_id, call, backfill_id=backfill_id)
