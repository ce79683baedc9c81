"""The Task instances list's query (bad values are a message, never an Airflow call) and the
bulk clear's selection keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from werkzeug.datastructures import MultiDict

from console.services.errors import ServiceError
from console.services.ti_actions import parse_selected
from console.services.ti_list import BadTaskInstanceQuery, TaskInstanceQuery

SERVERS = ["prod", "staging"]


def query(**args: str) -> TaskInstanceQuery:
    return TaskInstanceQuery.from_args(MultiDict(args), SERVERS)


def test_filters_become_airflow_parameters() -> None:
    q = query(
        server="prod", dag="etl", state="failed", pool="p", queue="q", min_duration="2.5", **{"from": "2026-11-30"}
    )
    params = q.task_filter().params()
    assert params["state"] == ["failed"] and params["pool"] == ["p"] and params["queue"] == ["q"]
    assert params["duration_gte"] == 2.5 and params["dag_id_pattern"] == "etl"
    assert params["run_after_gte"] == datetime(2026, 11, 30, tzinfo=UTC) and params["run_after_lt"] is None
    assert q.args(page=2) == {
        "server": "prod", "dag": "etl", "state": "failed", "pool": "p", "queue": "q",
        "min_duration": "2.5", "from": "2026-11-30", "page": 2,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"server": "nowhere"}, "no enabled Airflow server named 'nowhere'"),
        ({"state": "bogus"}, "'bogus' is not a task state"),
        ({"min_duration": "-1"}, "'min_duration' must be a number of seconds"),
        ({"min_duration": "soon"}, "'min_duration' must be a number of seconds"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "'from' date must be before"),
        ({"to": "yesterday"}, "'to' must be a date"),
        ({"per_page": "7"}, "'per_page' must be one of 25, 50"),
        ({"page": "5"}, "reaches the newest 100 task instances"),
        ({"pool": "x" * 300}, "pool filter is longer"),
    ],
)
def test_bad_values_are_refused_with_the_reason(args: dict[str, str], message: str) -> None:
    with pytest.raises(BadTaskInstanceQuery, match=message.replace("(", r"\(")):
        query(**args)


def test_selection_keys_are_checked(app) -> None:
    good = json.dumps([1, "etl", "manual__2026-12-01T00:00:00+00:00", "load", -1])
    with app.app_context():
        [one] = parse_selected([good, good, ""])
        assert (one.server_id, one.dag_id, one.task_id, one.map_index) == (1, "etl", "load", -1)
        for bad in ("nope", json.dumps([1, "etl", "r", "../x", -1]), json.dumps(["1", "etl", "r", "t", -1])):
            with pytest.raises(ServiceError, match="does not name a task instance"):
                parse_selected([bad])
        with pytest.raises(ServiceError, match="Select at least one"):
            parse_selected([])
