"""A DAG's backfills: the Backfills tab, the form with its dry run and confirmation, and the
pause, unpause and cancel buttons.

A part of :class:`~console.admin.dags.DagsView` (mixed in: ``dags.backfills``,
``dags.backfill_new``, ``dags.backfill_create``, ``dags.backfill_change``).  Thin: the reads and
actions are :mod:`console.services.backfills`, the form
:class:`~console.services.backfill_form.BackfillForm`.  A form that does not validate, a DAG
without a schedule and Airflow's refusal are the form again, with the input kept and the
reason shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response, abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from console.admin.dag_tabs import DAG
from console.services import backfills
from console.services.backfill_form import BackfillForm
from console.services.dag_actions import DagActionError
from console.services.errors import ServiceError

if TYPE_CHECKING:
    from console.airflow.client import DagDetails
    from console.services.server_clients import ServerHandle

BACKFILLS = DAG + "/backfills"


class DagBackfillsMixin:
    """The Backfills tab and its actions."""

    if TYPE_CHECKING:

        def render(self, template: str, **kwargs: Any) -> Any: ...
        def _or_404(self, load: Any) -> Any: ...
        def _tab(self, template: str, tab: str, page: Any, status: int = 200, **kwargs: Any) -> Any: ...
        def _not_found(self, server_name: str, message: str, status: int = 404) -> Response: ...

    @expose(BACKFILLS + "/")
    def backfills(self, server_id: int, dag_id: str) -> Any:
        """The DAG's backfills with their progress, newest first, paged by ``page``."""
        page = self._or_404(lambda: backfills.load_backfills(server_id, dag_id, request.args.get("page", "1")))
        status = 400 if getattr(page, "errors", None) else 200
        return self._tab("admin/dags/backfills.html", "backfills", page, status, per_page=backfills.BACKFILLS_PER_PAGE)

    @expose(BACKFILLS + "/new", methods=("GET", "POST"))
    def backfill_new(self, server_id: int, dag_id: str) -> Any:
        """The form; a valid POST is dry-run and answered with the confirmation page (whose
        "Change" button posts the fields back with ``edit`` to show them in the form again)."""
        loaded = self._dag_or_page(server_id, dag_id)
        if isinstance(loaded, Response):
            return loaded
        server, dag = loaded
        form = BackfillForm()
        if request.method == "GET" or request.form.get("edit"):  # "Change" on the confirmation page
            try:
                backfills.check_backfillable(dag)
            except ServiceError as exc:
                form.add_error(str(exc))
            return self._form(loaded, form)
        if not form.validate():
            return self._form(loaded, form)
        try:
            preview = backfills.dry_run(server_id, form.backfill_request(dag_id))
        except DagActionError as exc:
            form.add_error(str(exc))
            return self._form(loaded, form, 400 if exc.bad_request else 409)
        except ServiceError as exc:
            form.add_error(str(exc))
            return self._form(loaded, form)
        return self.render("admin/dags/backfill_confirm.html", server=server, dag=dag, form=form, dry=preview)

    @expose(BACKFILLS + "/create", methods=("POST",))
    def backfill_create(self, server_id: int, dag_id: str) -> Any:
        """Create the confirmed backfill, then on to the Backfills tab."""
        loaded = self._dag_or_page(server_id, dag_id)
        if isinstance(loaded, Response):
            return loaded
        form = BackfillForm()
        if not form.validate():
            return self._form(loaded, form)
        try:
            backfills.check_backfillable(loaded[1])
            made = backfills.create(current_user.email, server_id, form.backfill_request(dag_id))
        except DagActionError as exc:
            form.add_error(str(exc))
            return self._form(loaded, form, 400 if exc.bad_request else 409)
        except ServiceError as exc:
            form.add_error(str(exc))
            return self._form(loaded, form)
        flash(f"Backfill {made.id} of {dag_id} created: its runs are queued.", "success")
        return redirect(url_for(".backfills", server_id=server_id, dag_id=dag_id))

    @expose(BACKFILLS + "/<int:backfill_id>/<change>", methods=("POST",))
    def backfill_change(self, server_id: int, dag_id: str, backfill_id: int, change: str) -> Any:
        """``change`` is ``pause``, ``unpause`` or ``cancel`` (anything else: 404)."""
        done = {"pause": "Paused", "unpause": "Unpaused", "cancel": "Cancelled"}.get(change)
        if done is None:
            abort(404)
        try:
            backfills.change(current_user.email, server_id, dag_id, backfill_id, change)
        except ServiceError as exc:  # DagActionError too, and an unknown server
            flash(str(exc), "error")
        else:
            flash(f"{done} backfill {backfill_id}.", "success")
        return redirect(url_for(".backfills", server_id=server_id, dag_id=dag_id))

    # --- helpers -------------------------------------------------------------------------

    def _dag_or_page(self, server_id: int, dag_id: str) -> tuple[ServerHandle, DagDetails] | Response:
        """The server and the DAG's details, or the page that says why there are none."""
        try:
            return backfills.dag_for_backfill(server_id, dag_id)
        except DagActionError as exc:
            page = self.render("admin/dags/not_found.html", failure=exc.failure, message="The DAG cannot be read now.")
            return Response(page, 502)
        except ServiceError as exc:  # no such server or DAG
            return self._not_found("", str(exc))

    def _form(self, loaded: tuple[ServerHandle, DagDetails], form: BackfillForm, status: int | None = None) -> Any:
        server, dag = loaded
        code = status or (400 if form.has_errors and request.method == "POST" else 200)
        html = self.render("admin/dags/backfill_form.html", server=server, dag=dag, form=form)
        return html, code
