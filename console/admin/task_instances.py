"""The Task instances screen: every task instance of every enabled server in one list, newest run
first, and a bulk clear of the selected ones.

Thin: the query is checked by :class:`~console.services.ti_list.TaskInstanceQuery` (a bad value is
a 400 with the reason, and Airflow is not asked), the page built by
:func:`~console.services.ti_list.list_task_instances`, the clear done by
:func:`~console.services.ti_actions.clear_selected` (inline when few, else a background job).
Roles: ``task_instances.*`` in ``console.security.policy``.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from console.admin import dag_display
from console.admin.base import SecureBaseView
from console.jobs import job_queue
from console.security.redirects import is_same_site_path
from console.services import run_list, ti_actions, ti_list
from console.services.errors import ServiceError


class TaskInstancesView(SecureBaseView):
    """``/admin/task-instances``: the merged list of task instances across servers."""

    @expose("/")
    def index(self) -> Any:
        names = run_list.server_names()
        common = {
            "fmt": dag_display,
            "servers": names,
            "states": ti_list.STATES,
            "per_page_choices": run_list.PER_PAGE_CHOICES,
            "key": ti_actions.selection_key,
            "raw": {name: request.args.get(name, "")[:300] for name in ti_list.ARGS},
        }
        try:
            query = ti_list.TaskInstanceQuery.from_args(request.args, names)
        except ti_list.BadTaskInstanceQuery as exc:
            return self.render("admin/task_instances/list.html", listing=None, error=str(exc), **common), 400
        listing = ti_list.list_task_instances(query)
        return self.render("admin/task_instances/list.html", listing=listing, error=None, query=query, **common)

    @expose("/clear", methods=("POST",))
    def clear(self) -> Any:
        """Clear the selected task instances (``ti`` checkboxes)."""
        try:
            done = ti_actions.clear_selected(current_user.email, request.form.getlist("ti"))
        except ServiceError as exc:
            flash(str(exc), "error")
            return redirect(self._back())
        if done.job is not None:
            job_queue().submit(done.job.id)
            return redirect(url_for("jobs.detail", job_id=done.job.id))
        if done.cleared:
            flash(
                f"Cleared {done.cleared} task instance{'' if done.cleared == 1 else 's'}: they will run again.",
                "success",
            )
        for error in done.errors or []:
            flash(error, "error")
        return redirect(self._back())

    def _back(self) -> str:
        target = request.form.get("next", "")
        if is_same_site_path(target) and target.startswith(self.url + "/"):
            return target
        return url_for(".index")
