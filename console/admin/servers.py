"""Airflow servers screen (admin only). The credential is write-only: never rendered back."""

from __future__ import annotations

from typing import Any

from flask import flash
from flask_admin.actions import action
from flask_login import current_user
from markupsafe import Markup
from wtforms import PasswordField, SelectChoice, SelectField
from wtforms.validators import NumberRange, Optional

from console.admin.base import SecureModelView, history_action
from console.extensions import db
from console.models import AirflowServer
from console.services import audit
from console.services import servers as server_service
from console.services.errors import ServiceError
from console.services.read_cache import forget_server


def _secret_state(view: Any, context: Any, model: AirflowServer, name: str) -> str:
    if not model.secret_ciphertext:
        return "not set"
    changed = model.secret_changed_at.strftime("%Y-%m-%d %H:%M UTC") if model.secret_changed_at else "?"
    return f"set (changed {changed})"


def _url(view: Any, context: Any, model: AirflowServer, name: str) -> Markup:
    return Markup('<a href="{0}" target="_blank" rel="noopener noreferrer">{0}</a>').format(model.base_url)


class ServersView(SecureModelView):
    history_type = "airflow_server"
    column_extra_row_actions = [history_action("airflow_server")]
    edit_template = "admin/model/edit_with_history.html"
    column_list = ("name", "base_url", "enabled", "auth_kind", "username", "credential", "verify_tls", "read_timeout")
    column_details_list = (
        "name",
        "base_url",
        "enabled",
        "auth_kind",
        "username",
        "credential",
        "verify_tls",
        "connect_timeout",
        "read_timeout",
        "max_concurrent_triggers",
        "created_at",
        "updated_at",
    )
    column_labels = {
        "base_url": "Base URL",
        "auth_kind": "Authentication",
        "verify_tls": "Verify TLS",
        "connect_timeout": "Connect timeout (s)",
        "read_timeout": "Read timeout (s)",
        "max_concurrent_triggers": "Concurrent triggers",
    }
    column_formatters = {"credential": _secret_state, "base_url": _url}
    column_searchable_list = ("name", "base_url")
    column_filters = ("enabled",)
    column_default_sort = "name"
    form_columns = (
        "name",
        "base_url",
        "enabled",
        "auth_kind",
        "username",
        "secret",
        "verify_tls",
        "connect_timeout",
        "read_timeout",
        "max_concurrent_triggers",
    )
    form_extra_fields = {
        "secret": PasswordField(
            "Password or token",
            validators=[Optional()],
            description="Write-only: stored encrypted and never shown. Leave empty to keep the current one.",
        ),
    }
    form_overrides = {"auth_kind": SelectField}
    form_args = {
        "auth_kind": {
            "choices": [SelectChoice(k, v) for k, v in server_service.AUTH_KINDS.items()],
            "label": "Authentication",
        },
        "base_url": {"label": "Base URL", "description": "The API server's address, e.g. http://airflow.internal:8080"},
        "verify_tls": {"label": "Verify TLS certificates"},
        "connect_timeout": {
            "label": "Connect timeout",
            "validators": [NumberRange(min=0.1, max=60)],
            "description": "Seconds",
        },
        "read_timeout": {
            "label": "Read timeout",
            "validators": [NumberRange(min=0.5, max=300)],
            "description": "Seconds",
        },
        "max_concurrent_triggers": {
            "validators": [NumberRange(min=1, max=32)],
            "description": "Triggers the scheduler sends to this server at once (1 suits SQLite-backed Airflow).",
        },
    }

    def on_model_change(self, form: Any, model: AirflowServer, is_created: bool) -> None:
        try:
            model.base_url = server_service.normalize_base_url(model.base_url)
            server_service.require_secret_for_new_target(model, form.secret.data)
            server_service.set_secret(model, form.secret.data)
        except server_service.SecretRequired as exc:
            form.secret.errors = [str(exc)]
            raise ValueError(str(exc)) from None
        except ServiceError as exc:
            raise ValueError(str(exc)) from None
        if is_created and not model.secret_ciphertext:
            flash("No credential set: the server will answer 401 until you add one.", "warning")

    def after_model_change(self, form: Any, model: AirflowServer, is_created: bool) -> None:
        forget_server(model.id)  # another URL or credential: nothing cached from before holds

    @action("test_connection", "Test connection")
    def action_test_connection(self, ids: list[str]) -> None:
        servers = db.session.scalars(db.select(AirflowServer).where(AirflowServer.id.in_([int(i) for i in ids])))
        for server in servers:
            report = server_service.check_connection(server)
            audit.record_event(
                "airflow_server.test_connection",
                actor=current_user.email,
                object_type="airflow_server",
                object_id=str(server.id),
                server_name=server.name,
                error=None if report.ok else report.message,
            )
            db.session.commit()
            flash(report.message, "success" if report.ok else "error")
