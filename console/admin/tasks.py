"""Tasks screen: list, create/edit with a live cron preview, a task page with history and "Run now".

Thin: every rule lives in ``console.services.tasks`` and ``console.services.cron``;
triggering goes through the fire path (``console.services.fires``).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, g, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.helpers import is_form_submitted
from flask_login import current_user
from markupsafe import Markup
from werkzeug.routing import BuildError
from wtforms import SelectChoice

from console.admin.base import SecureModelView, history_action
from console.admin.task_forms import TaskForm
from console.extensions import db
from console.models import MISFIRE_POLICIES, AirflowServer, FireState, Task, TaskRun
from console.services import cron, dags, health, settings, webhooks
from console.services import tasks as task_service
from console.services.errors import ServiceError
from console.services.server_clients import ServerFailure


def state_badge(state: str | None) -> Markup:
    """A badge for a task-run state, in the palette's colours (``states.css``)."""
    state = state or "none"
    return Markup('<span class="badge state-badge state-{0} task-state" data-state="{0}">{0}</span>').format(state)


def url_if_exists(endpoint: str, **values: Any) -> str | None:
    """``url_for(endpoint)`` when another screen provides that endpoint, else None."""
    if endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def dag_run_link(task: Task, run: TaskRun) -> Markup:
    """The run id, linked to the DAG screens' run page (with its logs) when that screen exists."""
    href = url_if_exists("dags.run", server_id=task.server_id, dag_id=task.dag_id, run_id=run.dag_run_id)
    if href is None:
        return Markup('<code class="dag-run-id">{}</code>').format(run.dag_run_id)
    return Markup('<a class="dag-run-id" href="{}"><code>{}</code></a>').format(href, run.dag_run_id)


def _schedule_cell(view: Any, context: Any, task: Task, name: str) -> Markup:
    try:
        words = cron.describe(task.cron)
    except cron.CronError:
        words = "invalid schedule"
    return Markup('{}<br><code class="small">{}</code> <span class="small text-muted">{}</span>').format(
        words, task.cron, task.timezone
    )


def _next_fire_cell(view: Any, context: Any, task: Task, name: str) -> Markup | str:
    if not task.enabled:
        return Markup('<span class="text-muted">disabled</span>')
    moment = cron.next_fire(task.cron, task.timezone)
    return cron.format_fire(moment, moment.tzinfo) if moment and moment.tzinfo else "never"


def _last_run_cell(view: Any, context: Any, task: Task, name: str) -> Markup:
    run = getattr(g, "task_last_runs", {}).get(task.id)
    if run is None:
        return Markup('<span class="text-muted">no run yet</span>')
    return Markup("{} {}<br>{}").format(
        state_badge(run.state), run.scheduled_for.strftime("%Y-%m-%d %H:%M UTC"), dag_run_link(task, run)
    )


class TasksView(SecureModelView):
    history_type = "task"
    column_extra_row_actions = [history_action("task")]
    form = TaskForm
    create_template = "admin/tasks/create.html"
    edit_template = "admin/tasks/edit.html"
    details_template = "admin/tasks/details.html"
    list_template = "admin/tasks/list.html"
    column_list = ("name", "enabled", "schedule", "next_fire", "last_run", "server", "dag_id")
    column_labels = {"dag_id": "DAG", "next_fire": "Next fire", "last_run": "Last run", "server": "Server"}
    column_formatters = {"schedule": _schedule_cell, "next_fire": _next_fire_cell, "last_run": _last_run_cell}
    column_searchable_list = ("name", "dag_id")
    column_filters = ("enabled", "dag_id", "server.name")
    column_sortable_list = ("name", "enabled", "dag_id")
    column_default_sort = "name"

    # -- list ---------------------------------------------------------------

    def get_list(self, *args: Any, **kwargs: Any) -> Any:
        count, data = super().get_list(*args, **kwargs)
        if data is not None:
            g.task_last_runs = task_service.last_runs(t.id for t in data)
        return count, data

    @action("enable", "Enable", "Enable the selected tasks?")
    def action_enable(self, ids: list[str]) -> None:
        self._set_enabled(ids, True)

    @action("disable", "Disable", "Disable the selected tasks? They stop firing within seconds.")
    def action_disable(self, ids: list[str]) -> None:
        self._set_enabled(ids, False)

    def _set_enabled(self, ids: list[str], enabled: bool) -> None:
        chosen = db.session.scalars(db.select(Task).where(Task.id.in_([int(i) for i in ids])))
        changed = task_service.set_enabled(chosen, enabled)
        db.session.commit()
        flash(f"{'Enabled' if enabled else 'Disabled'} {len(changed)} task(s).", "success")

    # -- create / edit --------------------------------------------------------

    def create_form(self, obj: Any = None) -> Any:
        form = self._fill_choices(super().create_form(obj))
        del form.remove_webhook
        if request.method == "GET":
            form.timezone.data = settings.value("default_timezone")
        return form

    def edit_form(self, obj: Any = None) -> Any:
        form = self._fill_choices(super().edit_form(obj), obj)
        stored = webhooks.masked_webhook(obj) if isinstance(obj, Task) else ""
        if stored:  # write-only, like a server's credential: never rendered back
            form.alert_webhook_url.description = (
                f"Set: {stored} Leave empty to keep it, or tick Remove the webhook below."
            )
        else:
            del form.remove_webhook
        return form

    def _fill_choices(self, form: Any, task: Task | None = None) -> Any:
        servers = [
            s
            for s in db.session.scalars(db.select(AirflowServer).order_by(AirflowServer.name))
            if s.enabled or (task is not None and s.id == task.server_id)
        ]
        form.server_id.choices = [SelectChoice(s.id, s.name) for s in servers]
        if not form.server_id.data and servers and request.method == "GET":
            form.server_id.data = servers[0].id
        dag = form.dag_id.data or (task.dag_id if task else "")
        form.dag_id.choices = [SelectChoice(dag, dag)] if dag else [SelectChoice("", "Choose a server first")]
        return form

    def validate_form(self, form: Any) -> bool:
        """The form's own checks plus the service's rules, all at once; the values the service
        cleaned are kept on the form (``form.cleaned``) for the save, which checks nothing again.

        The DAG is looked up on its server (only when the form's own checks pass), before the
        save opens a write: Airflow is never called inside it."""
        if not isinstance(form, TaskForm):
            return bool(super().validate_form(form))
        valid = bool(super().validate_form(form))
        if not is_form_submitted():
            return valid
        editing = db.session.get(Task, request.args.get("id", type=int) or 0) if request.args.get("id") else None
        try:
            form.cleaned = task_service.clean(self._values(form, editing), task=editing, check_dag=valid)
        except task_service.TaskValidationError as exc:
            self._add_errors(form, exc)
            valid = False
        return valid

    def create_model(self, form: Any) -> Any:
        task = task_service.save_task(form.cleaned)
        db.session.commit()
        return task

    def update_model(self, form: Any, model: Task) -> bool:
        task_service.save_task(form.cleaned, model)
        db.session.commit()
        return True

    def _values(self, form: Any, task: Task | None) -> dict[str, Any]:
        """The form's fields for the service; on edit an empty webhook keeps the stored one."""
        values = {name: form[name].data for name in task_service.FIELDS if name != task_service.WEBHOOK}
        url = (form.alert_webhook_url.data or "").strip()
        if task is None or url:
            values[task_service.WEBHOOK] = url
        elif "remove_webhook" in form and form.remove_webhook.data:
            values[task_service.WEBHOOK] = ""
        return values

    def _add_errors(self, form: Any, exc: task_service.TaskValidationError) -> None:
        for field, message in exc.errors.items():
            if not form[field].errors:  # the form's own message about the same field comes first
                form[field].errors = [message]

    # -- task page ------------------------------------------------------------

    def render(self, template: str, **kwargs: Any) -> str:
        if template == self.details_template and isinstance(kwargs.get("model"), Task):
            kwargs.update(self._task_page(kwargs["model"]))
        elif template == self.list_template:
            kwargs["scheduler"] = health.scheduler_status()
        return super().render(template, **kwargs)

    def _task_page(self, task: Task) -> dict[str, Any]:
        runs = task_service.history(task.id)
        try:
            tz = cron.zone(task.timezone)
        except cron.CronError:
            tz = cron.zone("UTC")
        dag_link = url_if_exists("dags.detail", server_id=task.server_id, dag_id=task.dag_id)
        return {
            "runs": runs,
            "stats": task_service.run_stats(task.id),
            "preview": cron.preview(task.cron, task.timezone),
            "live": any(run.state in (FireState.PENDING, FireState.TRIGGERED) for run in runs),
            "local_time": lambda moment: cron.format_fire(moment, tz),
            "misfire_policies": MISFIRE_POLICIES,
            "dag_link": dag_link,
            "state_badge": state_badge,
            "dag_run_link": dag_run_link,
            "can_run_now": self.allowed("run_now"),
            "webhook": self._webhook_shown(task),
        }

    def _webhook_shown(self, task: Task) -> str:
        """The task's webhook masked (``https://host/…``) for everyone: a stored secret is never rendered."""
        return webhooks.masked_webhook(task)

    @expose("/run_now/<int:task_id>", methods=("POST",))
    def run_now(self, task_id: int) -> Any:
        task = db.session.get(Task, task_id)
        if task is None:
            flash("That task does not exist (any more).", "error")
            return redirect(url_for(".index_view"))
        try:
            run = task_service.run_now(task, actor=current_user.email)
        except ServiceError as exc:
            flash(str(exc), "error")
        else:
            outcomes: dict[str, tuple[str, str]] = {
                FireState.TRIGGERED: ("success", f"Triggered {run.dag_run_id}."),
                FireState.PENDING: ("warning", f"Not triggered yet; the scheduler retries it. {run.error or ''}"),
                FireState.FAILED: ("danger", f"Could not trigger {run.dag_run_id}: {run.error}"),
            }
            level, text = outcomes.get(run.state, ("info", f"The run is {run.state}."))
            flash(text, level)
        return redirect(url_for(".details_view", id=task_id))

    # -- JSON for the form's scripts ---------------------------------------

    @expose("/cron_preview")
    def cron_preview(self) -> Any:
        """``?cron=...&timezone=...`` -> the words and next five fire times, or the error."""
        return jsonify(cron.preview(request.args.get("cron", ""), request.args.get("timezone", "UTC")))

    @expose("/dag_choices")
    def dag_choices(self) -> Any:
        """``?server_id=N`` -> the server's DAGs; with ``&dag_id=X`` -> that DAG's params."""
        server = db.session.get(AirflowServer, request.args.get("server_id", type=int) or 0)
        if server is None:
            return jsonify(ok=False, error="Choose an Airflow server.", dags=[])
        if not server.enabled:
            return jsonify(ok=False, error=f"The server {server.name!r} is disabled.", dags=[])
        dag_id = request.args.get("dag_id", "").strip()
        if dag_id:
            details = dags.server_dag_details(server, dag_id)
            if isinstance(details, ServerFailure):
                return jsonify(ok=False, error=details.message, dags=[])
            return jsonify(ok=True, dag_id=dag_id, params=details.params, description=details.description)
        found = dags.server_dags(server)
        if isinstance(found, ServerFailure):
            return jsonify(ok=False, error=found.message, dags=[])
        choices = [{"dag_id": d.dag_id, "label": d.dag_display_name, "paused": d.is_paused} for d in found]
        return jsonify(ok=True, dags=choices, error="")
