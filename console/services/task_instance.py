"""One task instance in full (its tries, XComs, rendered template fields) and who started a run.

Reads go through the read cache, keyed by the DAG (a write to it through the console drops them)
and kept only briefly while the task instance can still change by itself.  Calls per page (cold
cache): the task instance, its tries, its XCom keys, and one per XCom value shown (at most
``TASK_PAGE_MAX_XCOMS``): ``docs/PERFORMANCE.md``.  Nothing here raises
:class:`~console.airflow.errors.AirflowError`: a failure comes back as a
:class:`~console.services.server_clients.ServerFailure`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import current_app

from console.airflow.errors import AirflowError, AirflowNotFound
from console.extensions import db
from console.models import AuditEvent
from console.models.states import TaskInstanceState
from console.models.task import Task, TaskRun
from console.services.read_cache import cached
from console.services.server_clients import ServerFailure, ServerHandle, resolve_server

if TYPE_CHECKING:
    from console.airflow.client import DagRun, TaskInstanceInfo, TaskTry, XComEntry


@dataclass(frozen=True)
class XComShown:
    """One XCom as the page shows it: its value as text, cut at ``XCOM_PREVIEW_CHARS``."""

    entry: XComEntry
    text: str | None
    truncated: bool
    size: int
    error: str | None = None


@dataclass
class TaskInstancePage:
    server: ServerHandle
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    info: TaskInstanceInfo | None = None
    tries: list[TaskTry] = field(default_factory=list)
    xcoms: list[XComShown] = field(default_factory=list)
    #: How many XComs the task instance has (more than shown: the rest are listed by key only).
    xcom_total: int = 0
    failure: ServerFailure | None = None
    not_found: bool = False

    @property
    def name(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id} [{self.map_index}]"

    @property
    def finished(self) -> bool:
        return self.info is not None and self.info.ti.state in TaskInstanceState.FINAL


def _ti_settled(answer: Any) -> bool:
    """Whether a task-instance read cannot change by itself any more (its instance is final)."""
    info = answer[0] if isinstance(answer, tuple) else answer
    ti = getattr(info, "ti", None)
    return ti is not None and ti.state in TaskInstanceState.FINAL


def _read(server_id: int, dag_id: str, query: tuple[object, ...], loader: Any, settled: Any = None) -> Any:
    return cached("runs", server_id, (dag_id, "ti", *query), loader, dag_id=dag_id, settled=settled)


def task_instance_ref(server_id: int, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> TaskInstancePage:
    """The page's names only (no Airflow call), for a page about the task instance (the clear
    confirmation)."""
    return TaskInstancePage(resolve_server(server_id), dag_id, run_id, task_id, map_index)


def load_task_instance(server_id: int, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> TaskInstancePage:
    """The task-instance page; ``not_found`` when Airflow has no such DAG, run or task instance."""
    page = TaskInstancePage(resolve_server(server_id), dag_id, run_id, task_id, map_index)
    where = (dag_id, run_id, task_id, map_index)
    try:
        client = page.server.client
        page.info = _read(server_id, dag_id, ("info", *where), partial(client.task_instance_info, *where), _ti_settled)
        final = page.finished
        page.tries = _read(
            server_id,
            dag_id,
            ("tries", *where, page.info.ti.try_number),
            partial(client.task_tries, *where),
            lambda _: final,
        )
        limit = int(current_app.config["TASK_PAGE_MAX_XCOMS"])
        entries, page.xcom_total = _read(
            server_id,
            dag_id,
            ("xcoms", *where, page.info.ti.try_number),
            partial(client.xcom_entries, *where, limit=limit),
            lambda _: final,
        )
        page.xcoms = [_shown(server_id, page, entry, final) for entry in entries[:limit]]
    except AirflowNotFound:
        page.not_found = page.info is None
    except AirflowError as exc:
        page.failure = ServerFailure.from_error(exc)
    return page


def _shown(server_id: int, page: TaskInstancePage, entry: XComEntry, final: bool) -> XComShown:
    client = page.server.client
    where = (page.dag_id, page.run_id, page.task_id, entry.key, entry.map_index)
    try:
        text: str = _read(
            server_id,
            page.dag_id,
            ("xcom", *where, str(entry.timestamp)),
            partial(client.xcom_value, *where),
            lambda _: final,
        )
    except AirflowNotFound:
        return XComShown(entry, None, False, 0, "It is gone (the task instance was cleared).")
    except AirflowError as exc:
        return XComShown(entry, None, False, 0, str(exc))
    limit = int(current_app.config["XCOM_PREVIEW_CHARS"])
    return XComShown(entry, text[:limit], len(text) > limit, len(text))


@dataclass(frozen=True)
class XComDownload:
    text: str | None
    failure: ServerFailure | None = None
    not_found: bool = False


def xcom_download(
    server_id: int, dag_id: str, run_id: str, task_id: str, key: str, map_index: int = -1
) -> XComDownload:
    """One XCom's whole value as text (not cached: a download is rare and may be big)."""
    server = resolve_server(server_id)
    try:
        return XComDownload(server.client.xcom_value(dag_id, run_id, task_id, key, map_index))
    except AirflowNotFound:
        return XComDownload(None, not_found=True)
    except AirflowError as exc:
        return XComDownload(None, failure=ServerFailure.from_error(exc))


# --- who started a run ------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOrigin:
    """Who asked the console for a run: a person (``actor``) or a console task, and where the
    audit trail has it."""

    actor: str | None
    task_name: str | None
    task_id: int | None
    audit_args: dict[str, str]


def run_origin(server_name: str, server_id: int, dag_id: str, run: DagRun) -> RunOrigin | None:
    """For a run the console made: the audit entry of its trigger (a person, or a background job
    acting for one) or the console task that fired it; ``None`` for runs made elsewhere."""
    audit_args = {"object_type": "dag_run", "object_id": f"{dag_id}/{run.run_id}"}
    fired = db.session.execute(
        sa.select(TaskRun, Task)
        .join(Task, TaskRun.task_id == Task.id)
        .where(TaskRun.dag_run_id == run.run_id, Task.dag_id == dag_id, Task.server_id == server_id)
        .limit(1)
    ).first()
    if fired is not None:
        task_run, task = fired
        return RunOrigin(task_run.requested_by, task.name, task.id, audit_args)
    actor = db.session.scalar(
        sa.select(AuditEvent.actor)
        .where(
            AuditEvent.category == "airflow",
            AuditEvent.action == "trigger",
            AuditEvent.outcome == "success",
            AuditEvent.server_name == server_name,
            AuditEvent.dag_id == dag_id,
            AuditEvent.run_id == run.run_id,
        )
        .order_by(AuditEvent.id)
        .limit(1)
    )
    return RunOrigin(actor, None, None, audit_args) if actor else None
