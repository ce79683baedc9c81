"""The home page at a glance: DAG states across servers, failing DAGs, tasks and their fires."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from console.extensions import db
from console.models import DagRunState, FireState, Task, TaskRun
from console.models.timeutil import utcnow
from console.services.dag_query import DagRow
from console.services.dags import fetch_all_rows
from console.services.server_clients import ServerFailure

#: The chart's label for DAGs without a run (its colour is the palette's ``state-none``).
NEVER_RUN = "never run"
ACTIVE_STATES = (DagRunState.RUNNING, DagRunState.QUEUED)
STATE_ORDER = (DagRunState.FAILED, DagRunState.RUNNING, DagRunState.QUEUED, DagRunState.SUCCESS, NEVER_RUN)


@dataclass
class Dashboard:
    """What the home page shows; built from cached DAG lists and two small queries."""

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


def build() -> Dashboard:
    rows, failures = fetch_all_rows()
    board = Dashboard(dag_total=len(rows), paused=sum(1 for r in rows if r.dag.is_paused), failures=failures)
    board.state_counts = dict(Counter(r.last_state or NEVER_RUN for r in rows))
    board.failing = sorted((r for r in rows if r.last_state == DagRunState.FAILED), key=_by_recency, reverse=True)[:10]
    board.active = sorted((r for r in rows if r.last_state in ACTIVE_STATES), key=_by_recency, reverse=True)[:10]
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
