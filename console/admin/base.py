"""The secure base views every Flask-Admin screen derives from.

Access is decided by ``console.security.policy`` alone: ``is_accessible``
asks it about the view's entry endpoint, the ``can_*`` flags and list actions
ask it about their own endpoints, and the app-wide ``enforce_policy`` hook
checks every request as well.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_admin import Admin, AdminIndexView, BaseView
from flask_admin.actions import action
from flask_admin.babel import lazy_gettext
from flask_admin.contrib.sqla import ModelView
from flask_login import current_user
from flask_wtf import FlaskForm

from console.security import policy
from console.security.redirects import refuse_unsafe_return_url


class AdminForm(FlaskForm):
    """Flask-WTF's CSRF-checked form, carrying the edited object like Flask-Admin's own form.

    Flask-Admin's ``Unique`` validator compares against ``form._obj``; without it,
    saving an existing record under its own unique name fails with "Already exists".
    """

    def __init__(self, formdata: Any = None, obj: Any = None, prefix: str = "", **kwargs: Any) -> None:
        self._obj = obj
        super().__init__(formdata=formdata, obj=obj, prefix=prefix, **kwargs)


class SecureViewMixin:
    """Policy-driven ``is_accessible``, the answer when it says no, and same-site ``url=`` only."""

    endpoint: str
    entry_point = "index"

    def create_blueprint(self, admin: Admin) -> Blueprint:
        # Flask-Admin follows ``url=`` after a save or delete and links to it as "Cancel";
        # its own check lets ``http:/evil.example`` through, so refuse such values first.
        blueprint: Blueprint = super().create_blueprint(admin)  # type: ignore[misc]
        blueprint.before_request(refuse_unsafe_return_url)
        return blueprint

    def is_accessible(self) -> bool:
        return policy.allows(current_user, f"{self.endpoint}.{self.entry_point}")

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("security.login", next=request.full_path.rstrip("?")))
        abort(403)

    def allowed(self, view_method: str) -> bool:
        """Whether the current user may call this view's ``view_method`` endpoint."""
        return policy.allows(current_user, f"{self.endpoint}.{view_method}")


class SecureBaseView(SecureViewMixin, BaseView):
    """A custom (non-model) screen."""


class SecureIndexView(SecureViewMixin, AdminIndexView):
    """The admin home."""


#: The last page a list screen offers to reach (50 rows a page).
MAX_LIST_PAGE = 1_000_000


class SecureModelView(SecureViewMixin, ModelView):
    """A model screen: CSRF-protected forms, rights from the policy table."""

    entry_point = "index_view"
    form_base_class = AdminForm
    can_view_details = True
    can_export = False
    page_size = 50

    @property  # type: ignore[override]
    def can_create(self) -> bool:
        return self.allowed("create_view")

    @property  # type: ignore[override]
    def can_edit(self) -> bool:
        return self.allowed("edit_view")

    @property  # type: ignore[override]
    def can_delete(self) -> bool:
        return self.allowed("delete_view")

    def is_action_allowed(self, name: str) -> bool:
        return policy.allows_action(current_user, self.endpoint, name) and super().is_action_allowed(name)

    @action("delete", lazy_gettext("Delete"), lazy_gettext("Are you sure you want to delete selected records?"))
    def action_delete(self, ids: tuple[str, ...]) -> None:
        """Flask-Admin's bulk delete, with the selected row ids as numbers: it binds them as text,
        which PostgreSQL refuses to compare with an integer key (a 500 on PostgreSQL only)."""
        super().action_delete(tuple(int(i) if i.isdigit() else i for i in ids))  # type: ignore[misc]

    def handle_action(self, return_view: str | None = None) -> Any:
        """A list action the person's role does not allow is refused (403, and audited as refused),
        not silently skipped as Flask-Admin would."""
        name = request.form.get("action", "")
        if name in self._actions_data and not policy.allows_action(current_user, self.endpoint, name):
            abort(403)
        return super().handle_action(return_view)

    def get_list(self, page: Any, *args: Any, **kwargs: Any) -> Any:
        """A page number out of range (``?page=-5``, a huge one) lists the first or a far page: an
        OFFSET below zero or past 64 bits is an error on PostgreSQL, never one the person made."""
        return super().get_list(min(max(int(page or 0), 0), MAX_LIST_PAGE), *args, **kwargs)

    def handle_view_exception(self, exc: Exception) -> bool:
        """A ``ValueError`` from ``on_model_change`` (a service's refusal) is shown to the person
        as a flash message next to the form they sent; anything else is Flask-Admin's to handle."""
        if isinstance(exc, ValueError):
            flash(str(exc), "error")
            return True
        return bool(super().handle_view_exception(exc))


def history_action(object_type: str) -> Any:
    """A list row's "History" link: the audit log filtered to that row (its table and id)."""
    from flask_admin.model.template import EndpointLinkRowAction

    return EndpointLinkRowAction(
        "fa fa-history", "audit.index", title="History", id_arg="object_id", url_args={"object_type": object_type}
    )
