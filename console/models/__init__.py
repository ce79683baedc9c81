"""Every model, imported in one place so ``configure_mappers`` sees them all.

``console.versioning`` is imported first: SQLAlchemy-Continuum's
``make_versioned`` must run before any versioned model is defined.
"""

import sqlalchemy as sa

from console import versioning  # noqa: F401  (must precede the models)
from console.models.audit import AUDIT_CATEGORIES, OUTCOMES, AuditEvent, LoginAttempt, Transaction
from console.models.job import Job, JobItem, WorkerHeartbeat
from console.models.scheduler_state import SchedulerHeartbeat, SchedulerLease
from console.models.server import AirflowServer
from console.models.setting import Setting
from console.models.states import DagRunState, FireState, JobItemState, JobState, TaskInstanceState
from console.models.task import MISFIRE_POLICIES, AlertDelivery, Task, TaskRun
from console.models.user import Role, User, roles_users

sa.orm.configure_mappers()

__all__ = [
    "AUDIT_CATEGORIES",
    "MISFIRE_POLICIES",
    "OUTCOMES",
    "AirflowServer",
    "AlertDelivery",
    "AuditEvent",
    "DagRunState",
    "FireState",
    "Job",
    "JobItem",
    "JobItemState",
    "JobState",
    "LoginAttempt",
    "Role",
    "SchedulerHeartbeat",
    "SchedulerLease",
    "Setting",
    "Task",
    "TaskInstanceState",
    "TaskRun",
    "Transaction",
    "User",
    "WorkerHeartbeat",
    "roles_users",
]
