"""The console settings screen (admin only): a grouped form over ``console.services.settings``.

Thin: the service validates (the same rules as the CLI) and stores; the view shows each
setting's current value, default and help, keeps refused input next to its message, and
never renders a secret (a blank secret field keeps the stored value).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from flask_wtf import FlaskForm

from console.admin.base import SecureBaseView
from console.services import alerts, cron, settings
from console.services.settings_registry import groups

#: Where a setting's history is (the audit log page, filtered to it).
HISTORY_URL = "/admin/audit/?object_type=setting&object_id={name}"


class SettingsCsrfForm(FlaskForm):
    """The settings form's CSRF check; its fields come from the registry."""


class SettingsView(SecureBaseView):
    """``/admin/settings/``: every console setting, grouped."""

    @expose("/", methods=("GET", "POST"))
    def index(self) -> Any:
        form = SettingsCsrfForm()
        entries = {e.definition.name: e for e in settings.entries()}
        submitted: dict[str, str] = {}
        errors: dict[str, str] = {}
        status = 200
        if request.method == "POST":
            submitted = {
                name: request.form[name] for name, e in entries.items() if name in request.form and not e.pinned
            }
            if not form.validate():
                flash("The form expired. Reload the page and try again.", "error")
                status = 400
            else:
                try:
                    changed = settings.save(submitted, clear=request.form.getlist("clear"))
                except settings.SettingsInvalid as exc:
                    errors = exc.errors
                    flash("Nothing was saved: correct the settings marked below.", "error")
                    status = 400
                else:
                    flash(f"Saved: {', '.join(changed)}." if changed else "Nothing changed.", "success")
                    return redirect(url_for(".index"))
        page = self.render(
            "admin/settings/index.html",
            form=form,
            groups=groups(),
            entries=entries,
            submitted=submitted,
            errors=errors,
            timezones=cron.timezone_names(),
            history_url=HISTORY_URL if _audit_page_exists() else None,
        )
        return page, status

    @expose("/test-alert", methods=("POST",))
    def test_alert(self) -> Any:
        """Send a test alert through the SMTP settings and the default webhook; flash each outcome."""
        if not SettingsCsrfForm().validate():
            flash("The form expired. Reload the page and try again.", "error")
            return redirect(url_for(".index"))
        outcomes = alerts.send_test_alert(current_user.email)
        if not outcomes:
            flash("No alert channel is configured: set the SMTP host or the default webhook first.", "warning")
        for channel, target, error in outcomes:
            if error is None:
                flash(f"Test alert sent: {channel} to {target} was accepted.", "success")
            else:
                flash(f"Test alert failed: {channel} to {target}: {error}", "error")
        return redirect(url_for(".index"))


def _audit_page_exists() -> bool:
    return any(endpoint.startswith("audit.") for endpoint in current_app.view_functions)
