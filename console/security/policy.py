"""The access policy, as data: which role an endpoint or action needs.

Roles are ordered: a viewer reads everything except users and secrets; an
operator is a viewer who may also trigger, pause, clear and mark runs and task
instances, and create and edit tasks; an admin may do everything. ``POLICY``
maps every Flask endpoint to the least role that may use it (``PUBLIC`` needs
no sign-in). An endpoint missing from the table is refused, and the role x
endpoint test fails on it.
"""

from __future__ import annotations

from typing import Any

PUBLIC = "public"
VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"

ROLES: dict[str, str] = {
    VIEWER: "Reads DAGs, runs, logs, tasks and the audit trail",
    OPERATOR: "Viewer, plus triggers, pauses and clears runs and creates and edits tasks",
    ADMIN: "Everything, including users, Airflow servers and settings",
}
RANK = {PUBLIC: 0, VIEWER: 1, OPERATOR: 2, ADMIN: 3}

MODEL_READ = ("index_view", "details_view", "ajax_lookup")
MODEL_WRITE = ("create_view", "edit_view", "action_view", "ajax_update")


def model_view(endpoint: str, read: str, write: str, delete: str | None = None) -> dict[str, str]:
    """Policy rows for a Flask-Admin model view's standard endpoints."""
    rows = {f"{endpoint}.{name}": read for name in MODEL_READ}
    rows.update({f"{endpoint}.{name}": write for name in MODEL_WRITE})
    rows[f"{endpoint}.delete_view"] = delete or write
    rows[f"{endpoint}.export"] = read
    return rows


POLICY: dict[str, str] = {
    "static": PUBLIC,
    "health.healthz": PUBLIC,
    "health.readyz": PUBLIC,
    "health.index": PUBLIC,
    "security.login": PUBLIC,
    "security.logout": PUBLIC,
    "security.change_password": VIEWER,
    "security.verify": VIEWER,
    "security.static": PUBLIC,
    "admin.static": PUBLIC,
    "admin.index": VIEWER,
    "admin.board": VIEWER,
    **model_view("users", read=ADMIN, write=ADMIN),
    **model_view("servers", read=ADMIN, write=ADMIN),
    **model_view("tasks", read=VIEWER, write=OPERATOR, delete=ADMIN),
    "tasks.run_now": OPERATOR,
    "tasks.cron_preview": VIEWER,
    "tasks.dag_choices": VIEWER,
    "dags.index": VIEWER,
    "runs.index": VIEWER,
    "dags.bulk": OPERATOR,
    "dags.detail": VIEWER,
    "dags.graph": VIEWER,
    "dags.code": VIEWER,
    "dags.details": VIEWER,
    "dags.run_list": VIEWER,
    "dags.run": VIEWER,
    "dags.set_paused": OPERATOR,
    "dags.trigger": OPERATOR,
    "dags.clear": OPERATOR,
    "dags.mark": OPERATOR,
    "dags.mark_task": OPERATOR,
    "dags.backfills": VIEWER,
    "dags.backfill_new": OPERATOR,
    "dags.backfill_create": OPERATOR,
    "dags.backfill_change": OPERATOR,
    "import_errors.index": VIEWER,
    "dags.log": VIEWER,
    "dags.log_lines": VIEWER,
    "dags.log_download": VIEWER,
    # Background jobs: everyone who reads may follow them; operators may cancel any job.
    "jobs.index": VIEWER,
    "jobs.detail": VIEWER,
    "jobs.progress": VIEWER,
    "jobs.cancel": OPERATOR,
}

# Flask-Admin actions (list-view bulk actions), keyed "<view endpoint>:<action name>".
ACTIONS: dict[str, str] = {
    "users:deactivate": ADMIN,
    "users:activate": ADMIN,
    "servers:test_connection": ADMIN,
    "tasks:enable": OPERATOR,
    "tasks:disable": OPERATOR,
    "tasks:delete": ADMIN,
    "users:delete": ADMIN,
    "servers:delete": ADMIN,
}

# Stored secrets shown in full only to this role and above; everyone else sees them masked.
READ_SECRETS: dict[str, str] = {
    "task.alert_webhook_url": ADMIN,
}


def required_role(endpoint: str | None) -> str | None:
    """The least role ``endpoint`` needs, or None when the policy does not name it."""
    if endpoint is None:
        return None
    return POLICY.get(endpoint)


def user_rank(user: Any) -> int:
    """The highest rank among ``user``'s roles (0 for anonymous or inactive users)."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "active", False):
        return 0
    return max((RANK.get(role.name, 0) for role in user.roles), default=0)


def allows(user: Any, endpoint: str | None) -> bool:
    """Whether ``user`` may use ``endpoint`` under the policy."""
    role = required_role(endpoint)
    if role is None:
        return False
    if role == PUBLIC:
        return True
    return getattr(user, "is_authenticated", False) and user_rank(user) >= RANK[role]


def allows_action(user: Any, view_endpoint: str, action: str) -> bool:
    """Whether ``user`` may run the list action ``action`` of the view ``view_endpoint``."""
    role = ACTIONS.get(f"{view_endpoint}:{action}")
    return role is not None and user_rank(user) >= RANK[role]


def may_read_secret(user: Any, secret: str) -> bool:
    """Whether ``user`` may see the stored secret ``secret`` (see ``READ_SECRETS``) in full."""
    role = READ_SECRETS.get(secret)
    return role is not None and user_rank(user) >= RANK[role]
