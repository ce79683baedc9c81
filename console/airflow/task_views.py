"""Bounded reads of task instances: one task instance in full, its tries, its XComs, and a filtered
page of the task instances of every DAG (``GET /dags/~/dagRuns/~/taskInstances``).

A part of :class:`~console.airflow.client.AirflowClient`.  Contract: every method makes exactly
one request, whatever the number of tries, XComs or task instances there are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.airflow.dag_views import BATCH_PAGE
from console.airflow.payloads import (
    TaskInstance,
    _dict,
    _int,
    _odict,
    _odt,
    _ofloat,
    _ostr,
    _Plain,
    _str,
    parse_page,
    parse_task_instance,
)
from console.airflow.summaries import _aware

if TYPE_CHECKING:
    from console.airflow.session import AirflowSession


@dataclass(frozen=True, slots=True)
class TaskInstanceInfo(_Plain):
    """A task instance with what the task-instance page and the cross-server list show beyond
    :class:`~console.airflow.payloads.TaskInstance`."""

    ti: TaskInstance
    pool: str | None
    queue: str | None
    rendered_map_index: str | None
    #: Only ``GET`` of one task instance fills these (the list leaves them out).
    rendered_fields: dict[str, Any]
    run_after: datetime | None


@dataclass(frozen=True, slots=True)
class TaskTry(_Plain):
    """One try of a task instance, as ``GET .../tries`` describes it."""

    try_number: int
    state: str | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    hostname: str | None
    operator: str | None
    pool: str | None
    queue: str | None


@dataclass(frozen=True, slots=True)
class XComEntry(_Plain):
    """One XCom of a task instance (without its value)."""

    key: str
    map_index: int
    timestamp: datetime | None


@dataclass(frozen=True)
class TaskInstanceFilter:
    """What Airflow filters ``GET /dags/~/dagRuns/~/taskInstances`` by; ``None``: no filter."""

    state: str | None = None
    pool: str | None = None
    queue: str | None = None
    dag_id_pattern: str | None = None
    duration_gte: float | None = None
    run_after_gte: datetime | None = None
    run_after_lt: datetime | None = None

    def params(self) -> dict[str, Any]:
        extra = {"dag_id_pattern": self.dag_id_pattern} if self.dag_id_pattern else {}
        return {
            "state": [self.state] if self.state else None,
            "pool": [self.pool] if self.pool else None,
            "queue": [self.queue] if self.queue else None,
            "duration_gte": self.duration_gte,
            "run_after_gte": _aware(self.run_after_gte),
            "run_after_lt": _aware(self.run_after_lt),
            **extra,
        }


@dataclass(frozen=True)
class TaskInstancesPage:
    items: list[TaskInstanceInfo]
    total: int


def parse_task_instance_info(raw: Any) -> TaskInstanceInfo:
    d = _dict(raw, "task_instance")
    return TaskInstanceInfo(
        ti=parse_task_instance(d),
        pool=_ostr(d, "pool"),
        queue=_ostr(d, "queue"),
        rendered_map_index=_ostr(d, "rendered_map_index"),
        rendered_fields=_odict(d, "rendered_fields"),
        run_after=_odt(d, "run_after"),
    )


def parse_task_try(raw: Any) -> TaskTry:
    d = _dict(raw, "try")
    return TaskTry(
        try_number=_int(d, "try_number"),
        state=_ostr(d, "state"),
        start_date=_odt(d, "start_date"),
        end_date=_odt(d, "end_date"),
        duration=_ofloat(d, "duration"),
        hostname=_ostr(d, "hostname"),
        operator=_ostr(d, "operator_name") or _ostr(d, "operator"),
        pool=_ostr(d, "pool"),
        queue=_ostr(d, "queue"),
    )


def parse_xcom_entry(raw: Any) -> XComEntry:
    d = _dict(raw, "xcom")
    return XComEntry(key=_str(d, "key"), map_index=_int(d, "map_index"), timestamp=_odt(d, "timestamp"))


def xcom_text(raw: Any) -> str:
    """An XCom's value as text: a string as it is, anything else as indented JSON."""
    value = _dict(raw, "xcom").get("value")
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, default=str)


class AirflowTaskViews:
    """Task instances in detail (a part of :class:`~console.airflow.client.AirflowClient`)."""

    session: AirflowSession

    def _one(self, what: str, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.session.call(what, operation, *args, idempotent=True, **kwargs)

    def task_instance_info(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> TaskInstanceInfo:
        """One task instance with its pool, queue and rendered template fields: one request."""
        what = f"read task {task_id!r} of run {run_id!r} of DAG {dag_id!r}"
        api = self.session.task_instance_api
        if map_index < 0:
            raw = self._one(what, api.get_task_instance_without_preload_content, dag_id, run_id, task_id)
        else:
            raw = self._one(
                what, api.get_mapped_task_instance_without_preload_content, dag_id, run_id, task_id, map_index
            )
        return self.session.parse(what, parse_task_instance_info, raw)

    def task_tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[TaskTry]:
        """Every try of the task instance, oldest first: one request."""
        what = f"list the tries of task {task_id!r} in run {run_id!r}"
        api = self.session.task_instance_api
        raw = self._one(
            what, api.get_task_instance_tries_without_preload_content, dag_id, run_id, task_id, map_index=map_index
        )
        rows, _ = self.session.parse(what, lambda data: parse_page(data, "task_instances"), raw)
        tries = self.session.parse(what, lambda items: [parse_task_try(r) for r in items], rows)
        return sorted(tries, key=lambda t: t.try_number)

    def xcom_entries(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1, *, limit: int = BATCH_PAGE
    ) -> tuple[list[XComEntry], int]:
        """The task instance's XComs by key (at most ``limit``) and how many it has: one request."""
        what = f"list the XComs of task {task_id!r} in run {run_id!r}"
        raw = self._one(
            what,
            self.session.xcom_api.get_xcom_entries_without_preload_content,
            dag_id,
            run_id,
            task_id,
            map_index=map_index,
            limit=max(1, min(limit, BATCH_PAGE)),
            order_by=["key"],
        )
        rows, total = self.session.parse(what, lambda data: parse_page(data, "xcom_entries"), raw)
        entries = self.session.parse(what, lambda items: [parse_xcom_entry(r) for r in items], rows)
        return entries, total if total is not None else len(entries)

    def xcom_value(self, dag_id: str, run_id: str, task_id: str, key: str, map_index: int = -1) -> str:
        """The value of one XCom as text (Airflow's JSON, without deserialising objects): one request."""
        what = f"read XCom {key!r} of task {task_id!r} in run {run_id!r}"
        raw = self._one(
            what,
            self.session.xcom_api.get_xcom_entry_without_preload_content,
            dag_id,
            task_id,
            run_id,
            key,
            map_index=map_index,
        )
        return self.session.parse(what, xcom_text, raw)

    def task_instances_page(self, task_filter: TaskInstanceFilter, *, limit: int, offset: int = 0) -> TaskInstancesPage:
        """Task instances of every DAG and run (newest run first) matching ``task_filter``,
        ``offset`` to ``offset + limit`` (at most 100), and the total: one request."""
        what = "list task instances"
        raw = self._one(
            what,
            self.session.task_instance_api.get_task_instances_without_preload_content,
            "~",
            "~",
            limit=max(1, min(limit, BATCH_PAGE)),
            offset=max(0, offset),
            order_by=["-run_after", "-start_date"],
            **task_filter.params(),
        )
        rows, total = self.session.parse(what, lambda data: parse_page(data, "task_instances"), raw)
        items = self.session.parse(what, lambda found: [parse_task_instance_info(r) for r in found], rows)
        return TaskInstancesPage(items, total if total is not None else offset + len(items))
