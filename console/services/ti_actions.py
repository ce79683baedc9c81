"""Actions on one run or task instance beyond :mod:`console.services.dag_actions`: edit a run's
note, clear a task instance with Airflow's options (after a dry run that lists what it clears),
and clear many selected task instances (inline when few, a background job when many).

Each action that reaches Airflow is audited once through :func:`dag_actions._perform` (so a
refusal is audited too) and drops the DAG's cached reads; errors are
:class:`~console.services.errors.ServiceError` with a message for people.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import current_app

from console.airflow.client import ClearOptions
from console.airflow.errors import AirflowError
from console.airflow.ids import is_airflow_key, is_run_id
from console.extensions import db
from console.models import AirflowServer, Job, JobItem, JobState, User
from console.models.timeutil import utcnow
from console.services.audit import record_airflow_action
from console.services.dag_actions import DagActionError, Outcome, _perform
from console.services.errors import ServiceError
from console.services.server_clients import resolve_server

if TYPE_CHECKING:
    from console.airflow.client import AirflowClient, DagRun, TaskInstance

#: Airflow's limit on a run's note.
MAX_NOTE = 1000
#: The background job that clears selected task instances (``Job.kind`` and its action).
CLEAR_TIS_KIND = "clear_task_instances"
#: Its action, as the job runner dispatches on it and the audit names it (``bulk clear_tis ...``).
CLEAR_TIS_ACTION = "clear_tis"


def set_run_note(actor: str, server_id: int, dag_id: str, run_id: str, note: str) -> DagRun:
    """Replace the run's note; audited as ``note`` with the note before and after."""
    note = note.replace("\r\n", "\n").strip()
    if len(note) > MAX_NOTE:
        raise ServiceError(f"A note holds at most {MAX_NOTE} characters; this one has {len(note)}.")
    server = resolve_server(server_id)
    try:
        before = server.client.get_dag_run(dag_id, run_id).note
    except AirflowError as exc:
        raise DagActionError(exc) from None

    def call(client: AirflowClient) -> DagRun:
        return client.set_dag_run_note(dag_id, run_id, note)

    return _perform(actor, "note", server, dag_id, call, run_id=run_id, before=before, after=note or None)


def clear_options(form: Any) -> tuple[ClearOptions, bool]:
    """The clear options a form sends (checkboxes ``downstream``, ``upstream``, ``future``,
    ``past``, ``only_failed``; checked is ``1``)."""
    checked = {name: form.get(name) == "1" for name in ("downstream", "upstream", "future", "past", "only_failed")}
    only_failed = checked.pop("only_failed")
    return ClearOptions(**checked), only_failed


def chosen_options(options: ClearOptions, only_failed: bool) -> list[str]:
    """The options chosen, by name (``only failed`` last), to show and to send again."""
    return [name for name, on in asdict(options).items() if on] + (["only failed"] if only_failed else [])


def _target(task_id: str, map_index: int) -> str | tuple[str, int]:
    return task_id if map_index < 0 else (task_id, map_index)


def preview_clear(
    server_id: int, dag_id: str, run_id: str, task_id: str, map_index: int, options: ClearOptions, only_failed: bool
) -> list[TaskInstance]:
    """What clearing would clear (Airflow's dry run: nothing changes, nothing is audited)."""
    server = resolve_server(server_id)
    try:
        return server.client.clear_task_instances(
            dag_id,
            run_id=run_id,
            task_ids=[_target(task_id, map_index)],
            only_failed=only_failed,
            options=options,
            dry_run=True,
        )
    except AirflowError as exc:
        raise DagActionError(exc) from None


def clear_task(
    actor: str,
    server_id: int,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
    options: ClearOptions,
    only_failed: bool,
    *,
    job_id: int | None = None,
    before_commit: Outcome | None = None,
) -> list[TaskInstance]:
    """Clear the task instance (and what ``options`` add): they run again.  Audited as ``clear``
    with the options and the task instances Airflow cleared."""
    server = resolve_server(server_id)
    target = _target(task_id, map_index)

    def call(client: AirflowClient) -> list[TaskInstance]:
        return client.clear_task_instances(
            dag_id, run_id=run_id, task_ids=[target], only_failed=only_failed, options=options
        )

    cleared: list[TaskInstance] = _perform(
        actor,
        "clear",
        server,
        dag_id,
        call,
        run_id=run_id,
        task_id=task_id,
        map_index=map_index,
        only_failed=only_failed,
        scope=f"task {task_id}",
        job_id=job_id,
        before_commit=before_commit,
        **asdict(options),
    )
    return cleared


# --- many selected task instances -------------------------------------------------------------


@dataclass(frozen=True)
class Selected:
    """One selected task instance: ``[server id, dag id, run id, task id, map index]`` as JSON,
    as the list's checkboxes send it."""

    server_id: int
    dag_id: str
    run_id: str
    task_id: str
    map_index: int

    def key(self) -> str:
        return json.dumps([self.server_id, self.dag_id, self.run_id, self.task_id, self.map_index])


def selection_key(server_id: int, ti: TaskInstance) -> str:
    return Selected(server_id, ti.dag_id, ti.run_id, ti.task_id, ti.map_index).key()


def parse_selected(keys: Iterable[str]) -> list[Selected]:
    """The selected task instances, duplicates dropped; :class:`ServiceError` naming the first
    key that is not one."""
    wanted = list(dict.fromkeys(k.strip() for k in keys if k and k.strip()))
    if not wanted:
        raise ServiceError("Select at least one task instance first.")
    limit = int(current_app.config["JOBS_MAX_ITEMS"])
    if len(wanted) > limit:
        raise ServiceError(f"A bulk clear takes at most {limit} task instances; {len(wanted)} were selected.")
    selected = []
    for key in wanted:
        try:
            sid, dag_id, run_id, task_id, map_index = json.loads(key)
            valid = (
                isinstance(sid, int)
                and isinstance(map_index, int)
                and is_airflow_key(dag_id)
                and is_run_id(run_id)
                and is_airflow_key(task_id)
            )
        except (ValueError, TypeError):
            valid = False
        if not valid:
            raise ServiceError(f"{key[:100]!r} does not name a task instance.")
        selected.append(Selected(sid, dag_id, run_id, task_id, map_index))
    return selected


@dataclass
class BulkClear:
    """What a bulk clear did inline (``cleared``, ``errors``) or the job doing it (``job``)."""

    cleared: int = 0
    errors: list[str] | None = None
    job: Job | None = None


def clear_selected(actor: str, keys: Iterable[str]) -> BulkClear:
    """Clear each selected task instance (only it: no downstream) as ``actor``: inline, each
    audited, when at most ``TI_CLEAR_INLINE_MAX`` are selected; else a queued background job
    (the caller submits it) whose items are audited one by one."""
    selected = parse_selected(keys)
    servers = {s.id: s for s in db.session.scalars(sa.select(AirflowServer).where(AirflowServer.enabled))}
    for item in selected:
        if item.server_id not in servers:
            raise ServiceError(f"There is no enabled Airflow server with id {item.server_id}.")
    if len(selected) > int(current_app.config["TI_CLEAR_INLINE_MAX"]):
        return BulkClear(job=_create_job(actor, selected, servers))
    done = BulkClear(errors=[])
    for item in selected:
        try:
            clear_task(
                actor, item.server_id, item.dag_id, item.run_id, item.task_id, item.map_index, ClearOptions(), False
            )
        except ServiceError as exc:
            assert done.errors is not None
            done.errors.append(f"{item.dag_id} / {item.run_id} / {item.task_id}: {exc}")
        else:
            done.cleared += 1
    return done


def _create_job(actor: str, selected: list[Selected], servers: dict[int, AirflowServer]) -> Job:
    """The queued job and its items; its start audited (as :mod:`console.services.jobs` audits
    a bulk action's) in the same commit."""
    job = Job(
        uid=uuid.uuid4().hex,
        kind=CLEAR_TIS_KIND,
        params={"action": CLEAR_TIS_ACTION, "tasks": [[s.task_id, s.map_index] for s in selected]},
        actor=actor,
        user_id=db.session.scalar(sa.select(User.id).where(User.email == actor)),
        state=JobState.QUEUED,
        total=len(selected),
        heartbeat_at=utcnow(),
    )
    job.items = [
        JobItem(
            position=n,
            server_id=s.server_id,
            server_name=servers[s.server_id].name,
            dag_id=s.dag_id,
            run_id=s.run_id,
        )
        for n, s in enumerate(selected)
    ]
    db.session.add(job)
    db.session.flush()
    names = ", ".join(dict.fromkeys(i.server_name for i in job.items))
    record_airflow_action(
        f"bulk {CLEAR_TIS_ACTION} started", names[:80], actor=actor, detail={"job": job.id, "task_instances": job.total}
    )
    db.session.commit()
    return job


def run_job_item(job: Job, item: JobItem, act: dict[str, Any]) -> None:
    """One item of a ``clear_task_instances`` job (called by the job runner)."""
    task_id, map_index = job.params["tasks"][item.position]
    assert item.server_id is not None and item.run_id is not None
    clear_task(
        job.actor, item.server_id, item.dag_id, item.run_id, task_id, int(map_index), ClearOptions(), False, **act
    )
