"""Users screen (admin only): list, create, edit roles, (de)activate. Hashes are never shown."""

from __future__ import annotations

from typing import Any

from flask import flash, g, make_response
from flask_admin import expose
from flask_admin.actions import action
from wtforms import PasswordField
from wtforms.validators import Optional

from console.admin.base import SecureModelView, history_action
from console.extensions import db
from console.models import User
from console.services import users as user_service
from console.services.errors import ServiceError


class UsersView(SecureModelView):
    history_type = "user"
    column_extra_row_actions = [history_action("user")]
    edit_template = "admin/model/edit_with_history.html"
    column_list = ("email", "roles", "active", "created_at", "last_login_at", "login_count")
    column_details_list = column_list
    column_searchable_list = ("email",)
    column_filters = ("active", "roles.name")
    column_sortable_list = ("email", "active", "created_at", "last_login_at")
    column_default_sort = "email"
    form_columns = ("email", "roles", "active", "new_password")
    form_extra_fields = {
        "new_password": PasswordField(
            "New password",
            validators=[Optional()],
            description="Leave empty to keep the current password (a new user gets a generated one, shown once).",
        )
    }
    column_export_exclude_list = ("password", "fs_uniquifier")
    can_export = False

    def on_model_change(self, form: Any, model: User, is_created: bool) -> None:
        try:
            generated = user_service.apply_admin_form(model, form.new_password.data, is_created=is_created)
        except ServiceError as exc:
            raise ValueError(str(exc)) from None
        if generated:
            # Request-scoped, never flashed: a flash lives in the session cookie, which is signed
            # but readable by anyone who holds it.
            g.generated_password = (model.email, generated)

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self) -> Any:
        """Flask-Admin's create view; a generated password is shown once, in this response's body."""
        response = super().create_view()
        created = g.pop("generated_password", None)
        if created is None or getattr(response, "status_code", None) not in (302, 303):
            return response
        email, password = created
        page = make_response(
            self.render("admin/users/password_once.html", email=email, password=password, next_url=response.location)
        )
        page.headers["Cache-Control"] = "no-store"
        return page

    @action("deactivate", "Deactivate", "Deactivate the selected users? They are signed out at once.")
    def action_deactivate(self, ids: list[str]) -> None:
        self._set_active(ids, False)

    @action("activate", "Activate")
    def action_activate(self, ids: list[str]) -> None:
        self._set_active(ids, True)

    def _set_active(self, ids: list[str], active: bool) -> None:
        done = []
        for user in db.session.scalars(db.select(User).where(User.id.in_([int(i) for i in ids]))):
            try:
                user_service.set_active(user.email, active)
                done.append(user.email)
            except ServiceError as exc:
                db.session.rollback()
                flash(str(exc), "error")
                return
        db.session.commit()
        flash(f"{'Activated' if active else 'Deactivated'}: {', '.join(done)}", "success")
