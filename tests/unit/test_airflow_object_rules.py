"""The rules behind the Variables/Pools/Connections screens that need no Airflow: which keys are
sensitive, how the console compares what it wrote with Airflow's redacted answer, and how an
import file is checked whole before anything is sent."""

from __future__ import annotations

import json

import pytest

from console.services.airflow_object_kinds import (
    CONNECTION,
    POOL,
    VARIABLE,
    as_airflow_shows,
    differs,
    is_sensitive_key,
)
from console.services.airflow_variables_io import ImportInvalid, parse_import


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("db_password", True),
        ("My-API-Key", True),
        ("slack.webhook_url", True),
        ("AWS_SECRET_ACCESS", True),
        ("github_token", True),
        ("rows_per_page", False),
        ("owner_email", False),
    ],
)
def test_sensitive_keys_follow_airflows_default_names(key: str, sensitive: bool) -> None:
    assert is_sensitive_key(key) is sensitive


def test_a_sensitive_variable_compares_on_what_airflow_shows() -> None:
    wrote = {"value": "s3cret", "description": "d"}
    assert not differs(VARIABLE, "api_key", {"value": "***", "description": "d"}, wrote)
    assert differs(VARIABLE, "api_key", {"value": "***", "description": "changed"}, wrote)
    assert differs(VARIABLE, "api_key", None, wrote)
    assert differs(VARIABLE, "api_key", {"value": "***", "description": "d"}, None)


def test_a_json_value_is_compared_with_its_sensitive_parts_redacted() -> None:
    wrote = {"value": json.dumps({"rows": 1, "password": "pw"}), "description": None}
    shown = {"value": '{"rows": 1, "password": "***"}', "description": None}
    assert as_airflow_shows(wrote["value"]) == {"rows": 1, "password": "***"}
    assert not differs(VARIABLE, "settings", shown, wrote)
    assert differs(VARIABLE, "settings", {**shown, "value": '{"rows": 2, "password": "***"}'}, wrote)


def test_a_connection_compares_password_presence_and_redacted_extra() -> None:
    wrote = {"conn_type": "http", "host": "h", "password": "pw", "extra": '{"token": "t", "x": 1}', "port": None}
    shown = {"conn_type": "http", "host": "h", "password": "***", "extra": '{"token": "***", "x": 1}', "port": None}
    assert not differs(CONNECTION, "c", shown, wrote)
    assert differs(CONNECTION, "c", {**shown, "password": None}, wrote)
    assert differs(CONNECTION, "c", {**shown, "extra": '{"token": "***", "x": 2}'}, wrote)
    assert differs(POOL, "p", {"slots": 3, "description": "", "include_deferred": False}, {"slots": 4})
    assert not differs(
        POOL, "p", {"slots": 4, "description": "", "include_deferred": False}, {"slots": 4, "description": None}
    )


def test_an_import_is_checked_whole_and_every_problem_named() -> None:
    assert parse_import('{"a": "x", "b": {"n": 1}, "c": 2}') == {"a": "x", "b": '{"n": 1}', "c": "2"}
    with pytest.raises(ImportInvalid, match="not valid JSON"):
        parse_import('{"a": ')
    with pytest.raises(ImportInvalid, match="one JSON object"):
        parse_import('["a"]')
    with pytest.raises(ImportInvalid) as problems:
        parse_import(json.dumps({"ok": "1", "": "x", "n": None, "k" * 251: "v"}))
    assert len(problems.value.problems) == 3
