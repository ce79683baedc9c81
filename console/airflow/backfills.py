"""Airflow 3's backfills: list them, dry-run and create one, pause, unpause and cancel it, and read
the runs it made.

A part of :class:`~console.airflow.client.AirflowClient`.  Contract: every method sends one
request; the writes (pause, unpause, cancel) are never retried, the dry run (which changes
nothing) is, and a create only when Airflow answers 503
(:meth:`AirflowBackfills.create_backfill`).  Airflow's public API does not say which runs a
backfill made: its runs are the DAG's runs of type ``backfill`` whose logical date lies in the
backfill's range (:meth:`AirflowBackfills.backfill_runs`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.airflow.dag_views import BATCH_PAGE, RunsPage
from console.airflow.errors import AirflowBadRequest, AirflowUnavailable
from console.airflow.payloads import (
    _bool,
    _dict,
    _int,
    _list,
    _odict,
    _odt,
    _ostr,
    _Plain,
    _str,
    parse_dag_run,
    parse_page,
)

if TYPE_CHECKING:
    from console.airflow.session import AirflowSession

#: What a backfill does with dates that already have a run: Airflow's ``ReprocessBehavior``.
REPROCESS_BEHAVIORS = ("none", "failed", "completed")
#: Tries of a create that Airflow answers 503 (see :meth:`AirflowBackfills.create_backfill`).
CREATE_ATTEMPTS = 5
#: Seconds before the second try of such a create, then twice as long before each next one.
CREATE_RETRY_SECONDS = 0.5
#: The changes a backfill accepts after it was created.
BACKFILL_CHANGES = ("pause", "unpause", "cancel")


@dataclass(frozen=True, slots=True)
class Backfill(_Plain):
    """One backfill as Airflow describes it; ``completed_at`` is set when it finished or was
    cancelled."""

    id: int
    dag_id: str
    from_date: datetime | None
    to_date: datetime | None
    is_paused: bool
    max_active_runs: int
    reprocess_behavior: str
    dag_run_conf: dict[str, Any]
    created_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime | None

    @property
    def active(self) -> bool:
        return self.completed_at is None


@dataclass(frozen=True)
class BackfillRequest:
    """What a backfill is asked to do (Airflow's ``BackfillPostBody``); dates are aware UTC."""

    dag_id: str
    from_date: datetime
    to_date: datetime
    run_backwards: bool = False
    max_active_runs: int = 10
    reprocess_behavior: str = "none"
    dag_run_conf: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the audit trail."""
        return {
            "from_date": self.from_date.isoformat(),
            "to_date": self.to_date.isoformat(),
            "run_backwards": self.run_backwards,
            "max_active_runs": self.max_active_runs,
            "reprocess_behavior": self.reprocess_behavior,
            "dag_run_conf": self.dag_run_conf,
        }


@dataclass(frozen=True)
class BackfillPage:
    """The newest backfills of a DAG and how many it has in all."""

    backfills: list[Backfill]
    total: int


def parse_backfill(raw: Any) -> Backfill:
    d = _dict(raw, "backfill")
    return Backfill(
        id=_int(d, "id"),
        dag_id=_str(d, "dag_id"),
        from_date=_odt(d, "from_date"),
        to_date=_odt(d, "to_date"),
        is_paused=_bool(d, "is_paused", False),
        max_active_runs=_int(d, "max_active_runs"),
        reprocess_behavior=_ostr(d, "reprocess_behavior") or "none",
        dag_run_conf=_odict(d, "dag_run_conf"),
        created_at=_odt(d, "created_at"),
        completed_at=_odt(d, "completed_at"),
        updated_at=_odt(d, "updated_at"),
    )


def parse_dry_run(raw: Any) -> list[datetime | None]:
    """The logical dates of the runs a backfill would create, in the order it would create them."""
    rows = _list(_dict(raw, "answer"), "backfills")
    return [_odt(_dict(row, "run"), "logical_date") for row in rows]


class AirflowBackfills:
    """One server's backfills (a part of :class:`~console.airflow.client.AirflowClient`)."""

    name: str
    session: AirflowSession

    def _backfill_body(self, what: str, request: BackfillRequest) -> Any:
        from console.airflow import official as o

        if request.from_date.tzinfo is None or request.to_date.tzinfo is None:
            raise AirflowBadRequest(self.name, f"cannot {what}: the dates must be timezone-aware")
        if request.reprocess_behavior not in REPROCESS_BEHAVIORS:
            raise AirflowBadRequest(
                self.name, f"cannot {what}: reprocess behaviour must be one of {', '.join(REPROCESS_BEHAVIORS)}"
            )
        try:
            return o.BackfillPostBody(
                dag_id=request.dag_id,
                from_date=request.from_date,
                to_date=request.to_date,
                run_backwards=request.run_backwards,
                max_active_runs=request.max_active_runs,
                reprocess_behavior=o.ReprocessBehavior(request.reprocess_behavior),
                dag_run_conf=request.dag_run_conf,
            )
        except ValueError as exc:
            raise self.session.bad_arguments(what, exc) from None

    def _backfill_call(self, what: str, operation: Callable[..., Any], *args: Any, idempotent: bool) -> Backfill:
        data = self.session.call(what, operation, *args, idempotent=idempotent)
        return self.session.parse(what, parse_backfill, data)

    def list_backfills(self, dag_id: str, *, limit: int = 25, offset: int = 0) -> BackfillPage:
        """The DAG's backfills, newest first, ``limit`` (at most 100) from ``offset``: one request."""
        what = f"list the backfills of DAG {dag_id!r}"
        raw = self.session.call(
            what,
            self.session.backfill_api.list_backfills_without_preload_content,
            dag_id,
            limit=max(1, min(limit, BATCH_PAGE)),
            offset=max(0, offset),
            order_by=["-id"],
            idempotent=True,
        )
        rows, total = self.session.parse(what, lambda data: parse_page(data, "backfills"), raw)
        found = self.session.parse(what, lambda items: [parse_backfill(r) for r in items], rows)
        return BackfillPage(found, total if total is not None else offset + len(found))

    def get_backfill(self, backfill_id: int) -> Backfill:
        what = f"read backfill {backfill_id}"
        api = self.session.backfill_api
        return self._backfill_call(what, api.get_backfill_without_preload_content, backfill_id, idempotent=True)

    def backfill_dry_run(self, request: BackfillRequest) -> list[datetime | None]:
        """The logical dates of the runs ``request`` would create (nothing is created)."""
        what = f"dry-run a backfill of DAG {request.dag_id!r}"
        body = self._backfill_body(what, request)
        raw = self.session.call(
            what, self.session.backfill_api.create_backfill_dry_run_without_preload_content, body, idempotent=True
        )
        return self.session.parse(what, parse_dry_run, raw)

    def create_backfill(self, request: BackfillRequest) -> Backfill:
        """Create the backfill: Airflow creates its runs, queued, at once.

        Retried only on a 503, which Airflow answers when its database was locked while it
        created the runs (SQLite under concurrent access), after deleting the partial backfill;
        and a DAG has at most one active backfill, so a retry can never make a second one (at
        worst it is refused with 409)."""
        what = f"create a backfill of DAG {request.dag_id!r}"
        body = self._backfill_body(what, request)
        api = self.session.backfill_api
        attempt = 1
        while True:
            try:
                return self._backfill_call(what, api.create_backfill_without_preload_content, body, idempotent=False)
            except AirflowUnavailable as exc:
                if exc.status != 503 or attempt >= CREATE_ATTEMPTS:
                    raise
            time.sleep(CREATE_RETRY_SECONDS * 2 ** (attempt - 1))
            attempt += 1

    def change_backfill(self, backfill_id: int, change: str) -> Backfill:
        """``change`` (one of :data:`BACKFILL_CHANGES`) the backfill; never retried.  Airflow
        refuses (409) to change a backfill that has completed."""
        what = f"{change} backfill {backfill_id}"
        if change not in BACKFILL_CHANGES:
            raise AirflowBadRequest(self.name, f"cannot {what}: not one of {', '.join(BACKFILL_CHANGES)}")
        api = self.session.backfill_api
        operation = {
            "pause": api.pause_backfill_without_preload_content,
            "unpause": api.unpause_backfill_without_preload_content,
            "cancel": api.cancel_backfill_without_preload_content,
        }[change]
        return self._backfill_call(what, operation, backfill_id, idempotent=False)

    def backfill_runs(self, backfill: Backfill, *, limit: int = BATCH_PAGE) -> RunsPage:
        """The DAG's backfill runs with a logical date in ``backfill``'s range (the first
        ``limit``, at most 100, by logical date) and how many there are: one request."""
        what = f"list the runs of backfill {backfill.id}"
        raw = self.session.call(
            what,
            self.session.dag_run_api.get_dag_runs_without_preload_content,
            backfill.dag_id,
            limit=max(1, min(limit, BATCH_PAGE)),
            run_type=["backfill"],
            logical_date_gte=backfill.from_date,
            logical_date_lte=backfill.to_date,
            order_by=["logical_date"],
            idempotent=True,
        )
        rows, total = self.session.parse(what, lambda data: parse_page(data, "dag_runs"), raw)
        runs = self.session.parse(what, lambda items: [parse_dag_run(r) for r in items], rows)
        return RunsPage(runs, total if total is not None else len(runs))
