"""Every set of states the console reads or writes, each defined once.

Airflow's own states (its values, as its REST API sends them) and the states
of the console's fires (``TaskRun.state``). Each enum is a ``StrEnum``, so a
member equals its string: a value read from Airflow or the database compares
with the members as it is. ``FINAL`` holds the states a run or a task ends
in. Every value has a colour in ``console/static/states.css``
(``.state-<value>``), the one palette all screens use.
"""

from __future__ import annotations

from enum import StrEnum, nonmember


class DagRunState(StrEnum):
    """An Airflow DAG run's state."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"

    FINAL = nonmember(frozenset({SUCCESS, FAILED}))


class DagRunType(StrEnum):
    """How an Airflow DAG run came to be (its ``run_type``)."""

    MANUAL = "manual"
    SCHEDULED = "scheduled"
    BACKFILL = "backfill"
    ASSET_TRIGGERED = "asset_triggered"
    ASSET_MATERIALIZATION = "asset_materialization"
    OPERATOR_TRIGGERED = "operator_triggered"


class TaskInstanceState(StrEnum):
    """An Airflow task instance's state (``None`` in Airflow's answers means "no status" yet)."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    UPSTREAM_FAILED = "upstream_failed"
    UP_FOR_RETRY = "up_for_retry"
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    RESTARTING = "restarting"
    DEFERRED = "deferred"
    AWAITING_INPUT = "awaiting_input"
    SKIPPED = "skipped"
    REMOVED = "removed"

    #: After these a try's log no longer grows.
    FINAL = nonmember(frozenset({SUCCESS, FAILED, UPSTREAM_FAILED, SKIPPED, REMOVED}))
    #: Which state a summary of several task instances (a mapped task, a task group) shows:
    #: the first of these that any of them is in (Airflow's grid orders them the same way).
    SUMMARY_ORDER = nonmember(
        (
            FAILED,
            UPSTREAM_FAILED,
            UP_FOR_RETRY,
            UP_FOR_RESCHEDULE,
            QUEUED,
            SCHEDULED,
            DEFERRED,
            RUNNING,
            AWAITING_INPUT,
            RESTARTING,
            None,
            REMOVED,
            SKIPPED,
            SUCCESS,
        )
    )


class FireState(StrEnum):
    """A task's fire (``TaskRun.state``): pending -> triggered -> success | failed, or missed.

    A fire that could not be triggered within its retry window ends failed;
    fires skipped by the misfire policy are recorded as missed.
    """

    PENDING = "pending"
    TRIGGERED = "triggered"
    SUCCESS = "success"
    FAILED = "failed"
    MISSED = "missed"

    #: The outcome of the DAG run a fire triggered (a missed fire never ran: it has none).
    FINAL = nonmember(frozenset({SUCCESS, FAILED}))


class JobState(StrEnum):
    """A background job's state (``Job.state``): queued -> running -> one of ``FINAL``."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PARTIALLY_FAILED = "partially_failed"

    FINAL = nonmember(frozenset({SUCCEEDED, FAILED, CANCELLED, PARTIALLY_FAILED}))


class JobItemState(StrEnum):
    """One item of a job (``JobItem.state``): pending until it is done, then its outcome."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    FINAL = nonmember(frozenset({SUCCEEDED, FAILED, CANCELLED}))
