"""The DAGs screens: the merged list, a DAG, a run, the trigger form and the log viewer.

A DAG's tabs are in :mod:`console.admin.dag_tabs`.  Thin: every read and action is a call into
:mod:`console.services.dags`,
:mod:`console.services.dag_actions`, :mod:`console.services.logs` or
:mod:`console.services.trigger_form`.  Reads get Airflow's failures back as
data (banners); actions raise :class:`~console.services.errors.ServiceError`,
shown as flash messages or form errors.  Who may call each endpoint is decided
by ``console.security.policy`` (``dags.*``); the templates ask
``admin_view.allowed(...)`` only to hide buttons a user could not use.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, flash, jsonify, make_response, redirect, request, stream_with_context, url_for
from flask_admin import expose
from flask_login import current_user
from werkzeug.routing import BaseConverter, ValidationError

from console.admin import dag_display
from console.admin.base import SecureBaseView
from console.admin.dag_backfills import DagBackfillsMixin
from console.admin.dag_tabs import DAG, DagTabsMixin
from console.admin.task_instance_views import TaskInstanceMixin
from console.airflow.ids import MAX_ID_LENGTH, is_airflow_key, is_run_id
from console.jobs import job_queue
from console.security.redirects import is_same_site_path
from console.services import dag_actions, dags, jobs, logs
from console.services.dag_query import PER_PAGE_CHOICES, DagQuery
from console.services.errors import ServiceError
from console.services.server_clients import UnknownServer
from console.services.task_instance import run_origin
from console.services.trigger_form import build_trigger_form

RUN = DAG + "/runs/<run_id:run_id>"
LOG = RUN + "/tasks/<airflow_key:task_id>/logs/<int:try_number>"


class AirflowKeyConverter(BaseConverter):
    """A DAG or task id as Airflow 3.3 allows it; anything else does not match (a 404)."""

    regex = f"[^/]{{1,{MAX_ID_LENGTH}}}"

    def to_python(self, value: str) -> str:
        if not is_airflow_key(value):
            raise ValidationError()
        return value


class RunIdConverter(AirflowKeyConverter):
    """A run id as Airflow 3.3 allows it; anything else does not match (a 404)."""

    def to_python(self, value: str) -> str:
        if not is_run_id(value):
            raise ValidationError()
        return value


def register_converters(app: Flask) -> None:
    """The id converters the DAG routes use; called before the views are added."""
    app.url_map.converters["airflow_key"] = AirflowKeyConverter
    app.url_map.converters["run_id"] = RunIdConverter


class DagsView(DagTabsMixin, TaskInstanceMixin, DagBackfillsMixin, SecureBaseView):
    """``/admin/dags``: DAGs of every enabled Airflow server; a DAG's tabs are in
    :class:`~console.admin.dag_tabs.DagTabsMixin`, its backfills in
    :class:`~console.admin.dag_backfills.DagBackfillsMixin`."""

    def render(self, template: str, **kwargs: Any) -> Any:
        kwargs.setdefault("fmt", dag_display)
        return super().render(template, **kwargs)

    # --- pages ---------------------------------------------------------------------------

    @expose("/")
    def index(self) -> Any:
        listing = dags.list_dags(DagQuery.from_args(request.args))
        return self.render(
            "admin/dags/list.html", listing=listing, query=listing.query, per_page_choices=PER_PAGE_CHOICES
        )

    @expose(RUN + "/")
    def run(self, server_id: int, dag_id: str, run_id: str) -> Any:
        page = self._or_404(lambda: dags.load_run(server_id, dag_id, run_id))
        if isinstance(page, Response):
            return page
        if page.not_found:
            what = f"DAG {dag_id!r}" if page.dag is None else f"run {run_id!r} of DAG {dag_id!r}"
            return self._not_found(page.server.name, f"{what} does not exist on server {page.server.name!r}.")
        origin = run_origin(page.server.name, server_id, dag_id, page.run) if page.run else None
        return self.render(
            "admin/dags/run.html", page=page, origin=origin, others=dags.other_server_failures(server_id)
        )

    @expose(DAG + "/trigger", methods=("GET", "POST"))
    def trigger(self, server_id: int, dag_id: str) -> Any:
        loaded = self._or_404(lambda: dags.load_dag_details(server_id, dag_id))
        if isinstance(loaded, Response):
            return loaded
        server, details, failure = loaded
        if details is None and failure is None:
            return self._not_found(server.name, f"DAG {dag_id!r} does not exist on server {server.name!r}.")
        form = build_trigger_form(details.params if details else {}, request.form if request.method == "POST" else None)
        if request.method == "POST" and details is not None and form.validate():
            try:
                run = dag_actions.trigger(
                    current_user.email,
                    server_id,
                    dag_id,
                    conf=form.conf(),
                    logical_date=form.logical_date.data,
                    note=form.note.data,
                )
            except ServiceError as exc:
                form.add_error(str(exc))
            else:
                flash(f"Triggered {dag_id} on {server.name}: run {run.run_id}.", "success")
                return redirect(url_for(".run", server_id=server_id, dag_id=dag_id, run_id=run.run_id))
        status = 400 if form.form_errors or any(f.errors for f in form) else 200
        return self.render(
            "admin/dags/trigger.html",
            server=server,
            dag_id=dag_id,
            dag=details,
            failure=failure,
            form=form,
            others=dags.other_server_failures(server_id),
        ), status

    @expose(LOG)
    def log(self, server_id: int, dag_id: str, run_id: str, task_id: str, try_number: int) -> Any:
        ref = self._log_ref(server_id, dag_id, run_id, task_id, try_number)
        page = self._or_404(lambda: dags.load_run(server_id, dag_id, run_id))
        if isinstance(page, Response):
            return page
        task = logs.task_instance_of(page.tasks, ref)
        if page.not_found or (page.failure is None and task is None):
            return self._not_found(page.server.name, f"There is no try {try_number} of task {task_id!r} in that run.")
        return self.render(
            "admin/dags/log.html",
            page=page,
            task=task,
            ref=ref,
            others=dags.other_server_failures(server_id),
            page_size=logs.page_size(),
        )

    @expose(LOG + "/lines")
    def log_lines(self, server_id: int, dag_id: str, run_id: str, task_id: str, try_number: int) -> Any:
        """JSON: one page of the log; ``offset``, ``limit``, ``level``, ``q`` query args."""
        ref = self._log_ref(server_id, dag_id, run_id, task_id, try_number)
        args = request.args
        try:
            piece = logs.read_log_slice(
                ref,
                reader=current_user.id,
                offset=args.get("offset", 0, type=int),
                limit=args.get("limit", None, type=int),
                level=args.get("level", ""),
                query=args.get("q", "")[:200],
            )
        except UnknownServer as exc:
            return jsonify({"not_found": True, "failure": None, "message": str(exc)}), 404
        if piece.busy:
            return jsonify(piece.to_json()), 429, {"Retry-After": "5"}
        status = 404 if piece.not_found else 502 if piece.failure else 200
        return jsonify(piece.to_json()), status

    @expose(LOG + "/download")
    def log_download(self, server_id: int, dag_id: str, run_id: str, task_id: str, try_number: int) -> Any:
        ref = self._log_ref(server_id, dag_id, run_id, task_id, try_number)
        got = self._or_404(lambda: logs.download(ref))
        if isinstance(got, Response):
            return got
        if got.failure is not None:
            page = self.render("admin/dags/not_found.html", failure=got.failure, message="The log cannot be read now.")
            return make_response(page, 502)
        if got.not_found or got.chunks is None:
            return self._not_found("", "That log does not exist.")
        return Response(
            stream_with_context(got.chunks),
            mimetype="text/plain",
            headers={"Content-Disposition": f'attachment; filename="{got.filename}"', "Cache-Control": "no-store"},
        )

    # --- actions (POST) ------------------------------------------------------------------

    @expose("/bulk", methods=("POST",))
    def bulk(self) -> Any:
        """Start a background job doing the action to the selected DAGs; on to its page."""
        try:
            job = jobs.create_bulk_job(current_user.email, request.form.get("action", ""), request.form.getlist("dag"))
        except ServiceError as exc:
            flash(str(exc), "error")
            return redirect(self._back())
        job_queue().submit(job.id)
        return redirect(url_for("jobs.detail", job_id=job.id))

    @expose(DAG + "/paused", methods=("POST",))
    def set_paused(self, server_id: int, dag_id: str) -> Any:
        paused = request.form.get("paused") == "1"
        self._act(
            lambda: dag_actions.set_paused(current_user.email, server_id, dag_id, paused),
            f"{'Paused' if paused else 'Unpaused'} {dag_id}.",
        )
        return redirect(self._back(url_for(".detail", server_id=server_id, dag_id=dag_id)))

    @expose(RUN + "/clear", methods=("POST",))
    def clear(self, server_id: int, dag_id: str, run_id: str) -> Any:
        task_id = request.form.get("task_id") or None
        only_failed = request.form.get("only_failed") == "1"
        self._act(
            lambda: dag_actions.clear(
                current_user.email, server_id, dag_id, run_id, task_id=task_id, only_failed=only_failed
            ),
            f"Cleared {'task ' + task_id if task_id else 'the failed tasks' if only_failed else 'the run'}:"
            " it will run again.",
        )
        return redirect(url_for(".run", server_id=server_id, dag_id=dag_id, run_id=run_id))

    @expose(RUN + "/mark", methods=("POST",))
    def mark(self, server_id: int, dag_id: str, run_id: str) -> Any:
        state = request.form.get("state", "")
        self._act(
            lambda: dag_actions.mark_run(current_user.email, server_id, dag_id, run_id, state),
            f"Marked the run {state}.",
        )
        return redirect(url_for(".run", server_id=server_id, dag_id=dag_id, run_id=run_id))

    @expose(RUN + "/tasks/<airflow_key:task_id>/mark", methods=("POST",))
    def mark_task(self, server_id: int, dag_id: str, run_id: str, task_id: str) -> Any:
        state = request.form.get("state", "")
        map_index = request.form.get("map_index", -1, type=int)
        name = task_id if map_index < 0 else f"{task_id} [{map_index}]"
        self._act(
            lambda: dag_actions.mark_task(
                current_user.email, server_id, dag_id, run_id, task_id, state, map_index=map_index
            ),
            f"Marked task {name} {state}.",
        )
        return redirect(self._back(url_for(".run", server_id=server_id, dag_id=dag_id, run_id=run_id)))

    # --- helpers -------------------------------------------------------------------------

    def _act(self, action: Any, success: str) -> None:
        try:
            action()
        except ServiceError as exc:
            flash(str(exc), "error")
        else:
            flash(success, "success")

    def _or_404(self, load: Any) -> Any:
        """``load()``, or the friendly 404 page (a :class:`Response`) when the server id names
        no enabled server."""
        try:
            return load()
        except UnknownServer as exc:
            return self._not_found("", str(exc))

    def _not_found(self, server_name: str, message: str, status: int = 404) -> Response:
        page = self.render("admin/dags/not_found.html", server_name=server_name, message=message)
        return make_response(page, status)

    def _log_ref(self, server_id: int, dag_id: str, run_id: str, task_id: str, try_number: int) -> logs.TaskLogRef:
        map_index = request.args.get("map_index", -1, type=int)
        return logs.TaskLogRef(server_id, dag_id, run_id, task_id, try_number, map_index)

    def _back(self, default: str | None = None) -> str:
        """The form's ``next`` when it is a path inside this screen (never another site)."""
        target = request.form.get("next", "")
        if is_same_site_path(target) and target.startswith(self.url + "/"):
            return target
        return default or url_for(".index")
