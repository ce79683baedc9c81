"""The admin home: what is running and what failed, tasks at a glance, and the console's health."""

from __future__ import annotations

from flask_admin import expose
from flask_login import current_user

from console.admin.base import SecureIndexView
from console.security import policy
from console.services import dashboard, health


class HomeView(SecureIndexView):
    @expose("/")
    def index(self) -> str:
        return self.render(
            "admin/console_home.html",
            roles=current_user.role_names,
            role_descriptions=policy.ROLES,
            status=health.overview(),
            board=dashboard.build(),
        )
