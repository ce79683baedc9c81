"""The home page at a glance: DAG states across servers, failing DAGs, tasks and their fires."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

import sqlalchemy as sa

from console.airflow.registry import enabled_servers
from console.airflow.windows import DagFilter
from console.extensions import db
from console.models import DagRunState, FireState, Task, TaskRun
from console.models.timeutil import utcnow
from console.services.dag_list import cached_fan_out
from console.services.dag_query import DagRow
from console.services.server_clients import ServerFailure

if TYPE_CHECKING:
    from console.airflow.client import AirflowClient

#: The chart's label for DAGs without a run (its colour is the palette's ``state-none``).
NEVER_RUN = "never run"
ACTIVE_STATES = (DagRunState.RUNNING, DagRunState.QUEUED)
#: How many failing and how many active DAGs the home page lists.
LISTED = 10
STATE_ORDER = (DagRunState.FAILED, DagRunState.RUNNING, DagRunState.QUEUED, DagRunState.SUCCESS, NEVER_RUN)


@dataclass
class Dashboard:
    """What the home page shows; built from a few counting calls per server (cached) and two
    small queries."""

    dag_total: int = 0
    paused: int = 0
    state_counts: dict[str, int] = field(default_factory=dict)
    failing: list[DagRow] = field(default_factory=list)
    active: list[DagRow] = field(default_factory=list)
    failures: list[ServerFailure] = field(default_factory=list)
    tasks_enabled: int = 0
    tasks_total: int = 0
    fires_24h: dict[str, int] = field(default_factory=dict)
    recent_task_failures: list[TaskRun] = field(default_factory=list)

    @property
    def chart(self) -> dict[str, list]:
        """Labels, values and palette classes (``states.css``) for the last-run-state chart, in a
        stable order."""
        labels = [s for s in STATE_ORDER if self.state_counts.get(s)]
        labels += sorted(s for s in self.state_counts if s not in STATE_ORDER)
        return {
            "labels": labels,
            "values": [self.state_counts[s] for s in labels],
            "classes": [f"state-{'none' if s == NEVER_RUN else s}" for s in labels],
        }


def _by_recency(row: DagRow) -> float:
    when = row.last_run_at
    return when.timestamp() if when else 0.0


@dataclass(frozen=True)
class ServerSummary:
    """One server's counts (from ``total_entries``) and its newest failing and active DAGs."""

    total: int
    paused: int
    state_counts: dict[str, int]
    failing: list[DagRow]
    active: list[DagRow]


def _summarise(server_id: int, server_name: str, client: AirflowClient) -> ServerSummary:
    """A constant number of calls: the total, the paused total, one window per last-run state
    (``LISTED`` rows for failing and active ones, else just the count), one batch of runs."""
    total = client.count_dags()
    paused = client.count_dags(DagFilter(paused=True))
    windows = {
        state: client.dag_window(
            DagFilter(last_run_state=state),
            limit=LISTED if state in (DagRunState.FAILED, *ACTIVE_STATES) else 0,
            order_by="-last_run_start_date",
        )
        for state in STATE_ORDER
        if state != NEVER_RUN
    }
    counts = {state: window.total for state, window in windows.items() if window.total}
    never = total - sum(counts.values())
    if never > 0:
        counts[NEVER_RUN] = never
    shown = [dag for window in windows.values() for dag in window.dags]
    latest = client.latest_runs_of([d.dag_id for d in shown])
    rows = [DagRow(server_id, server_name, dag, latest.get(dag.dag_id)) for dag in shown]
    return ServerSummary(
        total=total,
        paused=paused,
        state_counts=counts,
        failing=[r for r in rows if r.last_state == DagRunState.FAILED],
        active=[r for r in rows if r.last_state in ACTIVE_STATES],
    )


def build() -> Dashboard:
    servers = enabled_servers()
    summaries = cached_fan_out(servers, "home", lambda sid, name, client: partial(_summarise, sid, name, client))
    board = Dashboard()
    counts: Counter[str] = Counter()
    failing: list[DagRow] = []
    active: list[DagRow] = []
    for server in servers:
        summary = summaries[server.id]
        if isinstance(summary, ServerFailure):
            board.failures.append(summary)
            continue
        board.dag_total += summary.total
        board.paused += summary.paused
        counts.update(summary.state_counts)
        failing += summary.failing
        active += summary.active
    board.state_counts = dict(counts)
    board.failing = sorted(failing, key=_by_recency, reverse=True)[:LISTED]
    board.active = sorted(active, key=_by_recency, reverse=True)[:LISTED]
    board.tasks_total = db.session.scalar(sa.select(sa.func.count()).select_from(Task)) or 0
    board.tasks_enabled = db.session.scalar(sa.select(sa.func.count()).where(Task.enabled.is_(True))) or 0
    since = utcnow() - timedelta(hours=24)
    fires = db.session.execute(
        sa.select(TaskRun.state, sa.func.count()).where(TaskRun.scheduled_for >= since).group_by(TaskRun.state)
    )
    board.fires_24h = {state: count for state, count in fires}
    board.recent_task_failures = list(
        db.session.scalars(
            sa.select(TaskRun)
            .where(TaskRun.state == FireState.FAILED, TaskRun.scheduled_for >= since)
            .order_by(TaskRun.scheduled_for.desc())
            .limit(5)
        )
    )
    return board
