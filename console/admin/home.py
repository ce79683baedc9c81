"""The admin home: who you are, what you may do, and the health of the parts."""

from __future__ import annotations

from flask_admin import expose
from flask_login import current_user

from console.admin.base import SecureIndexView
from console.security import policy
from console.services import health


class HomeView(SecureIndexView):
    @expose("/")
    def index(self) -> str:
        return self.render(
            "admin/console_home.html",
            roles=current_user.role_names,
            role_descriptions=policy.ROLES,
            status=health.overview(),
        )
