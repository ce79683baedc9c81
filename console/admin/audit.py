"""The audit log screens: the timeline, one entry with its diff, revert, and the streamed exports.

Thin: queries are :mod:`console.services.audit_log`, diffs and reverts
:mod:`console.services.audit_revert`. Operators and admins read every event; a viewer reads
only their own (``user_id``). Only admins revert. Nothing here edits or deletes an event.
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, make_response, redirect, request, stream_with_context, url_for
from flask_admin import expose
from flask_login import current_user

from console.admin import dag_display
from console.admin.base import SecureBaseView
from console.models import AUDIT_CATEGORIES, OUTCOMES, AuditEvent
from console.security import policy
from console.services import audit_log, audit_revert
from console.services.errors import ServiceError

#: Where an event's object is shown, by object type (endpoint, id argument).
OBJECT_LINKS = {"task": "tasks.edit_view", "airflow_server": "servers.edit_view", "user": "users.edit_view"}


def history_url(object_type: str, object_id: Any, server: str | None = None) -> str:
    """The audit log filtered to one object (the "History" links of other screens)."""
    if server:
        return url_for("audit.index", object_type=object_type, object_id=str(object_id), server=server)
    return url_for("audit.index", object_type=object_type, object_id=str(object_id))


class AuditView(SecureBaseView):
    """``/admin/audit/``: who did what, to which object, when, and how it ended."""

    def render(self, template: str, **kwargs: Any) -> Any:
        kwargs.setdefault("fmt", dag_display)
        return super().render(template, **kwargs)

    def _own_only(self) -> int | None:
        """The viewer's user id (they see their own events only); None for operators and admins."""
        return None if policy.user_rank(current_user) >= policy.RANK[policy.OPERATOR] else current_user.id

    @expose("/")
    def index(self) -> Any:
        try:
            query = audit_log.parse_query(request.args, user_id=self._own_only())
            before, after = audit_log.parse_cursor(request.args)
        except audit_log.BadQuery as exc:
            return self._bad(str(exc))
        result = audit_log.page(query, before=before, after=after)
        return self.render(
            "admin/audit/list.html",
            query=query,
            result=result,
            first=before is None and after is None,
            categories=AUDIT_CATEGORIES,
            outcomes=OUTCOMES,
            own_only=query.user_id is not None,
            revertible=audit_revert.revertible,
        )

    @expose("/<int:event_id>/")
    def entry(self, event_id: int) -> Any:
        event = audit_log.get_event(event_id, user_id=self._own_only())
        if event is None:
            return self._not_found(event_id)
        return self.render(
            "admin/audit/entry.html",
            event=event,
            fields=audit_log.event_dict(event),
            changes=audit_revert.diff(event),
            object_url=self._object_url(event),
            can_revert=self.allowed("revert") and audit_revert.revertible(event),
            reverted_by=audit_log.reverted_by(event.id),
        )

    @expose("/export")
    def export(self) -> Any:
        kind = request.args.get("format", "csv")
        if kind not in ("csv", "json"):
            return self._bad(f"Unknown export format {kind[:20]!r}: use csv or json.")
        try:
            query = audit_log.parse_query(request.args, user_id=self._own_only())
        except audit_log.BadQuery as exc:
            return self._bad(str(exc))
        chunks = audit_log.stream_csv(query) if kind == "csv" else audit_log.stream_json(query)
        mimetype = "text/csv" if kind == "csv" else "application/json"
        response = Response(stream_with_context(chunks), mimetype=mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="audit-log.{kind}"'
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/<int:event_id>/revert", methods=("GET",))
    def revert_preview(self, event_id: int) -> Any:
        event = audit_log.get_event(event_id)
        if event is None:
            return self._not_found(event_id)
        try:
            plan = audit_revert.plan(event)
        except ServiceError as exc:
            flash(str(exc), "warning")
            return redirect(url_for(".entry", event_id=event_id))
        return self.render("admin/audit/revert.html", event=event, plan=plan, force=plan.warning is not None)

    @expose("/<int:event_id>/revert", methods=("POST",))
    def revert(self, event_id: int) -> Any:
        event = audit_log.get_event(event_id)
        if event is None:
            return self._not_found(event_id)
        force = request.form.get("force") == "1"
        try:
            done = audit_revert.revert(event, actor=current_user.email, force=force)
        except audit_revert.changed_outside_errors() as exc:
            plan = audit_revert.RevertPlan(event, "airflow", audit_revert.diff_reversed(event), str(exc))
            return self.render("admin/audit/revert.html", event=event, plan=plan, force=True), 409
        except ServiceError as exc:  # CannotRevert, or Airflow refused or did not answer
            flash(str(exc), "warning")
            return redirect(url_for(".entry", event_id=event_id))
        flash(f"Reverted event #{event_id}: recorded as event #{done.id}.", "success")
        return redirect(url_for(".entry", event_id=done.id))

    def _object_url(self, event: AuditEvent) -> str | None:
        endpoint = OBJECT_LINKS.get(event.object_type or "")
        if endpoint is None or not event.object_id or not policy.allows(current_user, endpoint):
            return None
        return url_for(endpoint, id=event.object_id)

    def _bad(self, message: str) -> Any:
        page = self.render("admin/audit/bad_request.html", message=message)
        return make_response(page, 400)

    def _not_found(self, event_id: int) -> Any:
        page = self.render(
            "admin/audit/bad_request.html", heading="Not found", message=f"There is no audit event {event_id}."
        )
        return make_response(page, 404)
