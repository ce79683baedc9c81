"""The task-instance page, its XCom download, its clear (with a dry-run confirmation) and a run's
note: a part of :class:`~console.admin.dags.DagsView` (mixed in, so the endpoints are
``dags.task_instance``, ``dags.xcom_download``, ``dags.clear_task``, ``dags.run_note``).

Thin: each is one call into :mod:`console.services.task_instance` or
:mod:`console.services.ti_actions`; roles are ``dags.*`` rows of ``console.security.policy``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from flask import Response, flash, make_response, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from console.admin.dag_tabs import DAG
from console.services import dags, ti_actions
from console.services.errors import ServiceError
from console.services.task_instance import load_task_instance, task_instance_ref, xcom_download

RUN = DAG + "/runs/<run_id:run_id>"
TASK = RUN + "/tasks/<airflow_key:task_id>"
MAX_XCOM_KEY = 512


class TaskInstanceMixin:
    """A task instance's page and actions, and a run's note."""

    if TYPE_CHECKING:

        def render(self, template: str, **kwargs: Any) -> Any: ...
        def _or_404(self, load: Any) -> Any: ...
        def _not_found(self, server_name: str, message: str, status: int = 404) -> Response: ...

    def _map_index(self, source: Any) -> int:
        return max(-1, source.get("map_index", -1, type=int))

    @expose(TASK + "/")
    def task_instance(self, server_id: int, dag_id: str, run_id: str, task_id: str) -> Any:
        map_index = self._map_index(request.args)
        page = self._or_404(lambda: load_task_instance(server_id, dag_id, run_id, task_id, map_index))
        if isinstance(page, Response):
            return page
        if page.not_found:
            return self._not_found(
                page.server.name,
                f"There is no task instance {page.name!r} in run {run_id!r} of DAG {dag_id!r} on {page.server.name!r}.",
            )
        html = self.render("admin/dags/task_instance.html", page=page, others=dags.other_server_failures(server_id))
        return html if page.failure is None else (html, 502)

    @expose(TASK + "/xcom")
    def xcom_download(self, server_id: int, dag_id: str, run_id: str, task_id: str) -> Any:
        """The whole value of XCom ``?key=`` as a text file."""
        key = request.args.get("key", "")
        if not key or len(key) > MAX_XCOM_KEY:
            return self._not_found("", "Name the XCom with ?key= (at most 512 characters).", 400)
        got = self._or_404(
            lambda: xcom_download(server_id, dag_id, run_id, task_id, key, self._map_index(request.args))
        )
        if isinstance(got, Response):
            return got
        if got.failure is not None:
            html = self.render("admin/dags/not_found.html", failure=got.failure, message="The XCom cannot be read now.")
            return make_response(html, 502)
        if got.not_found or got.text is None:
            return self._not_found("", f"Task {task_id!r} in run {run_id!r} has no XCom {key[:100]!r}.")
        filename = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{dag_id}-{task_id}-{key}")[:150] + ".txt"
        return Response(
            got.text,
            mimetype="text/plain",
            headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
        )

    @expose(TASK + "/clear", methods=("POST",))
    def clear_task(self, server_id: int, dag_id: str, run_id: str, task_id: str) -> Any:
        """Without ``confirm=1``: Airflow's dry run, shown for confirmation; with it: the clear."""
        map_index = self._map_index(request.form)
        options, only_failed = ti_actions.clear_options(request.form)
        back = url_for(
            ".task_instance",
            server_id=server_id,
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            map_index=map_index if map_index >= 0 else None,
        )
        try:
            if request.form.get("confirm") != "1":
                found = ti_actions.preview_clear(server_id, dag_id, run_id, task_id, map_index, options, only_failed)
                page = task_instance_ref(server_id, dag_id, run_id, task_id, map_index)
                return self.render(
                    "admin/dags/clear_confirm.html",
                    page=page,
                    found=found,
                    chosen=ti_actions.chosen_options(options, only_failed),
                    only_failed=only_failed,
                    back=back,
                    others=[],
                )
            cleared = ti_actions.clear_task(
                current_user.email, server_id, dag_id, run_id, task_id, map_index, options, only_failed
            )
        except ServiceError as exc:
            flash(str(exc), "error")
        else:
            flash(
                f"Cleared {len(cleared)} task instance{'' if len(cleared) == 1 else 's'}: they will run again.",
                "success",
            )
        return redirect(back)

    @expose(RUN + "/note", methods=("POST",))
    def run_note(self, server_id: int, dag_id: str, run_id: str) -> Any:
        try:
            ti_actions.set_run_note(current_user.email, server_id, dag_id, run_id, request.form.get("note", ""))
        except ServiceError as exc:
            flash(str(exc), "error")
        else:
            flash("Saved the note.", "success")
        return redirect(url_for(".run", server_id=server_id, dag_id=dag_id, run_id=run_id))
