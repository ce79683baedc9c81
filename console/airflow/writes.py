"""The methods of :class:`~console.airflow.client.AirflowClient` that change something in Airflow.

Contract: each sends exactly one request and never retries it (a write that
timed out may have happened), except a dry run, which changes nothing; the
request bodies are the official client's models, built here so that invalid
arguments raise :class:`~console.airflow.errors.AirflowBadRequest` before
anything is sent.  Import the client, not this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.airflow.errors import AirflowBadRequest, AirflowConflict
from console.airflow.payloads import Dag, DagRun, TaskInstance, parse_dag, parse_dag_run, parse_task_instances

if TYPE_CHECKING:
    from console.airflow.session import AirflowSession

#: Run states a person may set on a DAG run.
DAG_RUN_SETTABLE_STATES = ("success", "failed", "queued")
#: Task-instance states a person may set.
TASK_SETTABLE_STATES = ("success", "failed", "skipped")


@dataclass(frozen=True)
class ClearOptions:
    """What else Airflow clears with the chosen task instances (``clearTaskInstances``'s
    ``include_*``): the tasks downstream (recursively, into other DAGs' sensors as Airflow
    does) or upstream of them, and the same tasks in later or earlier runs."""

    downstream: bool = False
    upstream: bool = False
    future: bool = False
    past: bool = False


class AirflowWrites:
    """Pause, trigger, set states, clear: the writes of one Airflow server
    (a part of :class:`~console.airflow.client.AirflowClient`)."""

    name: str
    session: AirflowSession

    def _write(self, what: str, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.session.call(what, operation, *args, idempotent=False, **kwargs)

    def set_paused(self, dag_id: str, paused: bool) -> Dag:
        what = f"{'pause' if paused else 'unpause'} DAG {dag_id!r}"
        from console.airflow import official as o

        data = self._write(
            what,
            self.session.dag_api.patch_dag_without_preload_content,
            dag_id,
            o.DAGPatchBody(is_paused=bool(paused)),
            update_mask=["is_paused"],
        )
        return self.session.parse(what, parse_dag, data)

    def trigger_dag_run(
        self,
        dag_id: str,
        *,
        run_id: str | None = None,
        conf: dict[str, Any] | None = None,
        logical_date: datetime | None = None,
        note: str | None = None,
    ) -> DagRun:
        """Create a manual run (never retried here).  A ``run_id`` that exists
        -> :class:`AirflowConflict`; params Airflow rejects ->
        :class:`AirflowBadRequest` with Airflow's message."""
        what = f"trigger DAG {dag_id!r}"
        from console.airflow import official as o

        if logical_date is not None and logical_date.tzinfo is None:
            raise AirflowBadRequest(self.name, f"cannot {what}: logical_date must be timezone-aware")
        try:
            body = o.TriggerDAGRunPostBody(dag_run_id=run_id, conf=conf, logical_date=logical_date, note=note)
        except ValueError as exc:
            raise self.session.bad_arguments(what, exc) from None
        try:
            data = self._write(what, self.session.dag_run_api.trigger_dag_run_without_preload_content, dag_id, body)
        except AirflowConflict as exc:
            if run_id is not None:
                reason = f"cannot {what}: a run with run id {run_id!r} already exists"
            else:
                reason = f"cannot {what}: a run with that logical date already exists"
            raise AirflowConflict(self.name, reason, status=exc.status) from None
        return self.session.parse(what, parse_dag_run, data)

    def set_dag_run_state(self, dag_id: str, run_id: str, state: str) -> DagRun:
        what = f"set the state of run {run_id!r} of DAG {dag_id!r}"
        if state not in DAG_RUN_SETTABLE_STATES:
            raise AirflowBadRequest(
                self.name, f"cannot {what}: state must be one of {', '.join(DAG_RUN_SETTABLE_STATES)}"
            )
        from console.airflow import official as o

        data = self._write(
            what,
            self.session.dag_run_api.patch_dag_run_without_preload_content,
            dag_id,
            run_id,
            o.DAGRunPatchBody(state=o.DagRunMutableStates(state)),
            update_mask=["state"],
        )
        return self.session.parse(what, parse_dag_run, data)

    def set_dag_run_note(self, dag_id: str, run_id: str, note: str) -> DagRun:
        """Replace the run's note (empty: no note)."""
        what = f"set the note of run {run_id!r} of DAG {dag_id!r}"
        from console.airflow import official as o

        try:
            body = o.DAGRunPatchBody(note=note)
        except ValueError as exc:
            raise self.session.bad_arguments(what, exc) from None
        data = self._write(
            what,
            self.session.dag_run_api.patch_dag_run_without_preload_content,
            dag_id,
            run_id,
            body,
            update_mask=["note"],
        )
        return self.session.parse(what, parse_dag_run, data)

    def clear_task_instances(
        self,
        dag_id: str,
        *,
        run_id: str,
        task_ids: list[str | tuple[str, int]] | None = None,
        only_failed: bool = False,
        dry_run: bool = False,
        options: ClearOptions | None = None,
    ) -> list[TaskInstance]:
        """Clear (re-run) tasks of one run; returns the task instances cleared
        (or, with ``dry_run``, that would be).  The run goes back to queued.
        A task id may be ``(task_id, map_index)`` for one mapped instance."""
        what = f"clear tasks of run {run_id!r} of DAG {dag_id!r}"
        from console.airflow import official as o

        chosen = options or ClearOptions()
        try:
            body = o.ClearTaskInstancesBody(
                dag_run_id=run_id,
                task_ids=[o.ClearTaskInstancesBodyTaskIdsInner(t if isinstance(t, str) else list(t)) for t in task_ids]
                if task_ids
                else None,
                only_failed=only_failed,
                dry_run=dry_run,
                include_downstream=chosen.downstream,
                include_upstream=chosen.upstream,
                include_future=chosen.future,
                include_past=chosen.past,
            )
        except ValueError as exc:
            raise self.session.bad_arguments(what, exc) from None
        data = self.session.call(  # a dry run changes nothing: safe to retry
            what,
            self.session.task_instance_api.post_clear_task_instances_without_preload_content,
            dag_id,
            body,
            idempotent=dry_run,
        )
        return self.session.parse(what, parse_task_instances, data)

    def set_task_instance_state(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        state: str,
        *,
        map_index: int | None = None,
    ) -> list[TaskInstance]:
        """Mark a task instance success/failed/skipped; returns those changed."""
        what = f"set the state of task {task_id!r} in run {run_id!r} of DAG {dag_id!r}"
        if state not in TASK_SETTABLE_STATES:
            raise AirflowBadRequest(self.name, f"cannot {what}: state must be one of {', '.join(TASK_SETTABLE_STATES)}")
        from console.airflow import official as o

        body = o.PatchTaskInstanceBody(new_state=o.TaskInstanceState(state))
        api = self.session.task_instance_api
        patch: Callable[..., Any]
        where: tuple[str | int, ...]
        if map_index is None or map_index < 0:
            patch, where = api.patch_task_instance_without_preload_content, (dag_id, run_id, task_id)
        else:
            patch = api.patch_task_instance_by_map_index_without_preload_content
            where = (dag_id, run_id, task_id, map_index)
        data = self._write(what, patch, *where, body, update_mask=["new_state"])
        return self.session.parse(what, parse_task_instances, data)
