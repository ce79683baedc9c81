"""Which task instance a log link names: one rule for the log page and the log reads."""

from __future__ import annotations

import pytest

from console.airflow.client import TaskInstance
from console.services.logs import TaskLogRef, task_instance_of


def task(task_id: str, map_index: int = -1, try_number: int = 2) -> TaskInstance:
    return TaskInstance(
        dag_id="d",
        run_id="r",
        task_id=task_id,
        task_display_name=None,
        map_index=map_index,
        state="success",
        try_number=try_number,
        max_tries=None,
        start_date=None,
        end_date=None,
        duration=None,
        operator=None,
        operator_name=None,
        hostname=None,
        note=None,
    )


TASKS = [task("extract"), task("load", map_index=0), task("load", map_index=1, try_number=0)]


@pytest.mark.parametrize(
    ("task_id", "map_index", "try_number", "expected"),
    [
        ("extract", -1, 2, TASKS[0]),
        ("extract", -1, 1, TASKS[0]),
        ("extract", -1, 3, None),  # no such try yet
        ("extract", -1, 0, None),
        ("load", 0, 1, TASKS[1]),
        ("load", -1, 1, None),  # mapped: the map index is part of the name
        ("load", 1, 1, TASKS[2]),  # not started: its first try's log may be asked for
        ("transform", -1, 1, None),
    ],
)
def test_a_log_ref_names_one_try_of_one_task_instance(
    task_id: str, map_index: int, try_number: int, expected: TaskInstance | None
) -> None:
    ref = TaskLogRef(1, "d", "r", task_id, try_number, map_index)
    assert task_instance_of(TASKS, ref) == expected
