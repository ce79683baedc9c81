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
    ADMIN: "Everything, including users, Airflow servers, settings, and Airflow's variables, pools and connections",
}
RANK = {PUBLIC: 0, VIEWER: 1, OPERATOR: 2, ADMIN: 3}

MODEL_READ = ("index_view", "details_view", "ajax_lookup")
MODEL_WRITE = ("create_view", "edit_view", "action_view", "ajax_update")


def airflow_objects_view(endpoint: str, *extra_reads: str, extra_writes: tuple[str, ...] = ()) -> dict[str, str]:
    """Policy rows for a Variables/Pools/Connections screen: everyone reads, admins change."""
    rows = {f"{endpoint}.{name}": VIEWER for name in ("index", "listing", *extra_reads)}
    rows.update({f"{endpoint}.{name}": ADMIN for name in ("create", "edit", "delete", *extra_writes)})
    return rows


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
    "dags.task_instance": VIEWER,
    "dags.xcom_download": VIEWER,
    "dags.clear_task": OPERATOR,
    "dags.run_note": OPERATOR,
    "task_instances.index": VIEWER,
    "task_instances.clear": OPERATOR,
    "dags.backfills": VIEWER,
    "dags.backfill_new": OPERATOR,
    "dags.backfill_create": OPERATOR,
    "dags.backfill_change": OPERATOR,
    "import_errors.index": VIEWER,
    "dags.log": VIEWER,
    "dags.log_lines": VIEWER,
    "dags.log_download": VIEWER,
    # Airflow's variables, pools and connections (per server), and its configuration.
    **airflow_objects_view("variables", "export", extra_writes=("import_variables",)),
    **airflow_objects_view("pools"),
    **airflow_objects_view("connections"),
    "airflow_config.index": VIEWER,
    "airflow_config.listing": VIEWER,
    # Console settings (the test alert sends mail and posts to the default webhook).
    "settings.index": ADMIN,
    "settings.test_alert": ADMIN,
    # Background jobs: everyone who reads may follow them; operators may cancel any job.
    "jobs.index": VIEWER,
    "jobs.detail": VIEWER,
    "jobs.progress": VIEWER,
    "jobs.cancel": OPERATOR,
    # Prometheus' scrape: admins, and without sign-in the addresses ADDRESS_OPENED names.
    "metrics.export": ADMIN,
    # The audit log: everyone reads (a viewer only their own events); only admins revert.
    # Audit rows are append-only: no route edits or deletes them.
    "audit.index": VIEWER,
    "audit.entry": VIEWER,
    "audit.export": VIEWER,
    "audit.revert_preview": ADMIN,
    "audit.revert": ADMIN,
}

# Endpoints that a client from an address in the named setting (a list of CIDRs) may use
# without signing in; everyone else needs the role POLICY names.
ADDRESS_OPENED: dict[str, str] = {
    "metrics.export": "METRICS_ALLOWED_ADDRESSES",
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


def address_opens(endpoint: str | None, remote_addr: str | None, config: Any) -> bool:
    """Whether ``remote_addr`` is in the CIDRs of the setting that ``ADDRESS_OPENED`` names for
    ``endpoint`` (so it may use it without signing in)."""
    import ipaddress

    setting = ADDRESS_OPENED.get(endpoint or "")
    if setting is None or not remote_addr:
        return False
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in config.get(setting) or ())
