"""The Variables, Pools and Connections screens, per Airflow server, and a server's configuration.

Thin: reads and changes are calls into :mod:`console.services.airflow_objects` (and
:mod:`console.services.airflow_variables_io` for import/export).  Who may call each endpoint is
``console.security.policy`` (``variables.*``, ``pools.*``, ``connections.*``, ``airflow_config.*``):
everyone who signs in reads, admins change.  Airflow down is a banner or a form error, never a 500.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, flash, make_response, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from console.admin.airflow_object_forms import FORMS, ID_FIELDS, ImportForm, values_of
from console.admin.base import SecureBaseView
from console.services import airflow_objects, airflow_variables_io
from console.services.errors import ServiceError
from console.services.server_clients import UnknownServer

#: Where an object's history is (the audit page, filtered to it).
AUDIT_PATH = "/admin/audit/"


def history_url(server: str, object_type: str, object_id: str) -> str:
    return AUDIT_PATH + "?" + urlencode({"server": server, "object_type": object_type, "object_id": object_id})


class _ServerScreen(SecureBaseView):
    """A screen with one page per enabled server; ``/`` goes to the first."""

    def _servers(self) -> list[Any]:
        return airflow_objects.enabled_servers()

    @expose("/")
    def index(self) -> Any:
        servers = self._servers()
        if not servers:
            return self.render("admin/objects/no_server.html", servers=[])
        return redirect(url_for(".listing", server_id=servers[0].id))

    def _not_found(self, message: str, status: int = 404) -> Response:
        page = self.render("admin/objects/no_server.html", servers=self._servers(), message=message)
        return make_response(page, status)

    def render(self, template: str, **kwargs: Any) -> Any:
        kwargs.setdefault("servers", self._servers())
        kwargs.setdefault("history_url", history_url)
        return super().render(template, **kwargs)


class ObjectsView(_ServerScreen):
    """List, create, edit and delete one kind of Airflow object on one server."""

    object_type = "variable"
    #: (field, label) shown in the list, after the id.
    columns: tuple[tuple[str, str], ...] = ()

    @property
    def kind(self) -> airflow_objects.Kind:
        return airflow_objects.KINDS[self.object_type]

    @expose("/<int:server_id>/")
    def listing(self, server_id: int) -> Any:
        search = request.args.get("q", "")[:250]
        try:
            listing = airflow_objects.list_objects(server_id, self.object_type, search)
        except UnknownServer as exc:
            return self._not_found(str(exc))
        return self.render("admin/objects/list.html", listing=listing, search=search, view=self)

    @expose("/<int:server_id>/new", methods=("GET", "POST"))
    def create(self, server_id: int) -> Any:
        return self._form(server_id, None)

    @expose("/<int:server_id>/edit", methods=("GET", "POST"))
    def edit(self, server_id: int) -> Any:
        object_id = request.args.get("id", "")
        if not object_id:
            return self._not_found("Say which object to edit.", 400)
        return self._form(server_id, object_id)

    @expose("/<int:server_id>/delete", methods=("POST",))
    def delete(self, server_id: int) -> Any:
        object_id = request.form.get("id", "")
        try:
            airflow_objects.delete(current_user.email, server_id, self.object_type, object_id)
        except UnknownServer as exc:
            return self._not_found(str(exc))
        except ServiceError as exc:
            flash(str(exc), "error")
        else:
            flash(f"Deleted {self.kind.label.lower()} {object_id}.", "success")
        return redirect(url_for(".listing", server_id=server_id))

    def _form(self, server_id: int, object_id: str | None) -> Any:
        try:
            server, row = (
                airflow_objects.get_object(server_id, self.object_type, object_id) if object_id else (None, None)
            )
            if server is None:
                server = airflow_objects.resolve_server(server_id)
        except UnknownServer as exc:
            return self._not_found(str(exc))
        except ServiceError as exc:
            return self._not_found(str(exc), 502)
        if object_id and row is None:
            return self._not_found(f"{self.kind.label} {object_id!r} does not exist on server {server.name!r}.")
        write_only = self._write_only(row)
        form = FORMS[self.object_type](request.form if request.method == "POST" else None)
        id_field = getattr(form, ID_FIELDS[self.object_type])
        if row is not None:
            if request.method == "GET":
                form.process(data={k: v for k, v in row.values.items() if k not in write_only})
            id_field.data = row.object_id
            id_field.description = ""
            id_field.render_kw = {**(id_field.render_kw or {}), "readonly": True}
        status = 200
        if request.method == "POST" and form.validate():
            values = values_of(form, self.object_type, write_only if row else frozenset())
            if self.object_type == "variable" and row is None and values.get("value") is None:
                form.value.errors = ["A new variable needs a value."]
            else:
                try:
                    if row is None:
                        airflow_objects.create(current_user.email, server_id, self.object_type, id_field.data, values)
                    else:
                        airflow_objects.update(current_user.email, server_id, self.object_type, row.object_id, values)
                except ServiceError as exc:
                    flash(str(exc), "error")
                    status = 400 if getattr(exc, "refused", True) else 502
                else:
                    flash(f"Saved {self.kind.label.lower()} {id_field.data}.", "success")
                    return redirect(url_for(".listing", server_id=server_id, q=id_field.data))
        if request.method == "POST" and status == 200:
            status = 400
        if request.method == "POST":  # a sensitive value is never sent back, even the one just typed
            for name in write_only | self.kind.secrets(id_field.data or ""):
                form[name].data = ""
        page = self.render(
            "admin/objects/form.html", form=form, server=server, row=row, write_only=write_only, view=self
        )
        return page, status

    def _write_only(self, row: airflow_objects.ObjectRow | None) -> frozenset[str]:
        """Fields the form must not show: the sensitive ones, and a value Airflow redacted in part."""
        if row is None:
            return frozenset(self.kind.secrets(""))
        partly = {k for k in ("value", "extra") if airflow_objects.REDACTED in str(row.values.get(k) or "")}
        return row.secret_fields | partly


class VariablesView(ObjectsView):
    object_type = "variable"
    columns = (("value", "Value"), ("description", "Description"))

    @expose("/<int:server_id>/import", methods=("GET", "POST"))
    def import_variables(self, server_id: int) -> Any:
        form = ImportForm(request.form if request.method == "POST" else None)
        results, problems, status = None, [], 200
        if request.method == "POST" and form.validate():
            upload = request.files.get("file")
            text = upload.read().decode("utf-8", "replace") if upload and upload.filename else (form.text.data or "")
            if upload and upload.filename:
                form.text.data = text
            try:
                results = airflow_variables_io.import_variables(current_user.email, server_id, text)
            except UnknownServer as exc:
                return self._not_found(str(exc))
            except airflow_variables_io.ImportInvalid as exc:
                problems, status = exc.problems, 400
            except ServiceError as exc:
                problems, status = [str(exc)], 502
        try:
            server = airflow_objects.resolve_server(server_id)
        except UnknownServer as exc:
            return self._not_found(str(exc))
        page = self.render(
            "admin/objects/import.html", form=form, server=server, results=results, problems=problems, view=self
        )
        return page, status

    @expose("/<int:server_id>/export")
    def export(self, server_id: int) -> Any:
        try:
            text, left_out = airflow_variables_io.export_variables(server_id)
        except UnknownServer as exc:
            return self._not_found(str(exc))
        except ServiceError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".listing", server_id=server_id))
        headers = {
            "Content-Disposition": f'attachment; filename="variables-server-{server_id}.json"',
            "Cache-Control": "no-store",
            "X-Left-Out": str(len(left_out)),
        }
        return Response(text, mimetype="application/json", headers=headers)


class PoolsView(ObjectsView):
    object_type = "pool"
    columns = (
        ("slots", "Slots"),
        ("open_slots", "Open"),
        ("running_slots", "Running"),
        ("queued_slots", "Queued"),
        ("include_deferred", "Deferred take slots"),
        ("description", "Description"),
    )


class ConnectionsView(ObjectsView):
    object_type = "connection"
    columns = (
        ("conn_type", "Type"),
        ("host", "Host"),
        ("port", "Port"),
        ("schema", "Schema"),
        ("login", "Login"),
        ("password", "Password"),
        ("extra", "Extra"),
        ("description", "Description"),
    )


class AirflowConfigView(_ServerScreen):
    """A server's effective configuration (where it exposes it), providers and plugins; read-only."""

    @expose("/<int:server_id>/")
    def listing(self, server_id: int) -> Any:
        search = request.args.get("q", "")[:200]
        try:
            info = airflow_objects.server_info(server_id, search)
        except UnknownServer as exc:
            return self._not_found(str(exc))
        return self.render("admin/objects/config.html", info=info, search=search)
