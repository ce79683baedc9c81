"""Building the trigger form from DAG params, in the shape Airflow 3.3's /dags/{id}/details returns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from werkzeug.datastructures import MultiDict

from console.services.trigger_form import build_trigger_form, read_params

# Exactly what GET /api/v2/dags/example_params/details answered on the Airflow 3.3.2 sandbox.
EXAMPLE_PARAMS = {
    "greeting": {
        "value": "hello",
        "schema": {"type": "string", "title": "Greeting"},
        "description": "Free text with a default.",
        "source": None,
    },
    "count": {
        "value": 3,
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "title": "Count"},
        "description": "Integer between 1 and 100.",
        "source": None,
    },
    "dry_run": {
        "value": False,
        "schema": {"type": "boolean", "title": "Dry run"},
        "description": "A boolean flag.",
        "source": None,
    },
    "color": {
        "value": "red",
        "schema": {"type": "string", "enum": ["red", "green", "blue"], "title": "Color"},
        "description": "One of red, green, blue.",
        "source": None,
    },
    "ticket": {
        "value": None,
        "schema": {"type": "string", "minLength": 1, "title": "Ticket"},
        "description": "Required string without a default.",
        "source": None,
    },
}
VALID = {"param__greeting": "hi", "param__count": "7", "param__color": "green", "param__ticket": "T-1"}


def post(params: dict, data: dict) -> object:
    return build_trigger_form(params, MultiDict(data))


def test_each_param_becomes_a_typed_field_with_its_default() -> None:
    form = build_trigger_form(EXAMPLE_PARAMS)
    fields = {spec.name: form[spec.field_name] for spec in form.param_specs}
    assert [spec.name for spec in form.param_specs] == ["greeting", "count", "dry_run", "color", "ticket"]
    assert fields["greeting"].type == "StringField" and fields["greeting"].data == "hello"
    assert fields["count"].type == "IntegerField" and fields["count"].data == 3
    assert fields["dry_run"].type == "BooleanField" and fields["dry_run"].data is False
    assert fields["color"].type == "SelectField" and [c.value for c in fields["color"].choices] == [
        "red",
        "green",
        "blue",
    ]
    assert fields["ticket"].data is None
    assert fields["count"].label.text == "Count" and fields["count"].description == "Integer between 1 and 100."
    html = fields["count"]()
    assert 'min="1"' in html and 'max="100"' in html and 'type="number"' in html
    assert "required" in fields["ticket"]() and "required" not in fields["greeting"]()


def test_required_is_no_default_and_not_nullable() -> None:
    specs = {s.name: s for s in read_params(EXAMPLE_PARAMS)}
    assert specs["ticket"].required and not specs["greeting"].required
    nullable = read_params({"maybe": {"value": None, "schema": {"type": ["null", "string"]}}})[0]
    assert nullable.kind == "string" and nullable.nullable and not nullable.required


def test_a_valid_post_gives_typed_conf() -> None:
    form = post(EXAMPLE_PARAMS, {**VALID, "param__dry_run": "y"})
    assert form.validate(), form.errors
    assert form.conf() == {"greeting": "hi", "count": 7, "dry_run": True, "color": "green", "ticket": "T-1"}
    unchecked = post(EXAMPLE_PARAMS, VALID)
    assert unchecked.validate() and unchecked.conf()["dry_run"] is False


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"param__count": "0"}, "param__count", "between 1 and 100"),
        ({"param__count": "101"}, "param__count", "between 1 and 100"),
        ({"param__count": "seven"}, "param__count", "Not a valid integer"),
        ({"param__ticket": ""}, "param__ticket", "required"),
        ({"param__color": "purple"}, "param__color", "Not a valid choice"),
    ],
)
def test_invalid_values_are_field_errors_and_are_kept(change: dict, field: str, message: str) -> None:
    form = post(EXAMPLE_PARAMS, {**VALID, **change})
    assert not form.validate()
    assert any(message in error for error in form.errors[field])
    assert set(form.errors) == {field}
    if field != "param__color":
        assert f'value="{change[field]}"' in form[field]()


def test_raw_json_replaces_the_param_fields() -> None:
    form = post(EXAMPLE_PARAMS, {"use_raw_conf": "y", "raw_conf": '{"ticket": "T-2", "extra": [1, 2]}'})
    assert form.validate(), form.errors  # the empty required ticket field is not checked in raw mode
    assert form.conf() == {"ticket": "T-2", "extra": [1, 2]}


@pytest.mark.parametrize(
    ("raw", "message"), [("{bad", "Not valid JSON"), ("[1, 2]", "JSON object"), ('"text"', "JSON object")]
)
def test_raw_json_must_be_an_object(raw: str, message: str) -> None:
    form = post(EXAMPLE_PARAMS, {"use_raw_conf": "y", "raw_conf": raw})
    assert not form.validate()
    assert message in form.errors["raw_conf"][0]
    assert form.raw_conf.data == raw


def test_raw_json_starts_with_the_defaults() -> None:
    form = build_trigger_form(EXAMPLE_PARAMS)
    assert '"greeting": "hello"' in form.raw_conf.data and '"ticket": null' in form.raw_conf.data


def test_logical_date_is_utc_and_note_is_limited() -> None:
    form = post(EXAMPLE_PARAMS, {**VALID, "logical_date": "2025-03-04T05:06", "note": "n" * 1001})
    assert not form.validate()
    assert form.logical_date.data == datetime(2025, 3, 4, 5, 6, tzinfo=UTC)
    assert "note" in form.errors


def test_other_schema_types() -> None:
    params = {
        "ratio": {"value": 0.5, "schema": {"type": "number", "minimum": 0, "maximum": 1}},
        "ids": {"value": [1, 2], "schema": {"type": "array"}},
        "options": {"value": {"a": 1}, "schema": {"type": "object"}},
        "day": {"value": "2025-01-31", "schema": {"type": "string", "format": "date"}},
        "level": {"value": None, "schema": {"type": ["null", "string"], "enum": [None, "low", "high"]}},
        "plain": "just a value",
        "has space": {"value": "x", "schema": {"type": "string", "maxLength": 3}},
    }
    form = build_trigger_form(params)
    specs = {s.name: s for s in form.param_specs}
    assert {n: s.kind for n, s in specs.items()} == {
        "ratio": "number",
        "ids": "json",
        "options": "json",
        "day": "date",
        "level": "enum",
        "plain": "json",
        "has space": "string",
    }
    assert specs["has space"].field_name == "param__6"
    data = {
        "param__ratio": "0.25",
        "param__ids": "[3]",
        "param__options": '{"b": 2}',
        "param__day": "2025-02-01",
        "param__level": "",
        "param__plain": '"other"',
        "param__6": "abc",
    }
    form = post(params, data)
    assert form.validate(), form.errors
    assert form.conf() == {
        "ratio": 0.25,
        "ids": [3],
        "options": {"b": 2},
        "day": "2025-02-01",
        "level": None,
        "plain": "other",
        "has space": "abc",
    }
    bad = post(params, {**data, "param__ids": '{"not": "a list"}', "param__ratio": "2", "param__6": "toolong"})
    assert not bad.validate()
    assert set(bad.errors) == {"param__ids", "param__ratio", "param__6"}


def test_a_dag_without_params_has_only_the_run_fields() -> None:
    form = build_trigger_form({})
    assert form.param_specs == []
    assert form.validate() and form.conf() == {}


DEEP = "[" * 100_000 + "]" * 100_000  # json.loads alone raises RecursionError on this


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (DEEP, "the limit is 100,000"),
        ("[" * 33 + "]" * 33, "nested more than 32 levels"),
        ('{"a": ' * 40 + "1" + "}" * 40, "nested more than 32 levels"),
        ('[{"a": [' * 11 + "]}]" * 11, "nested more than 32 levels"),
    ],
    ids=["100000-deep", "33-arrays", "40-objects", "33-mixed"],
)
def test_too_deep_or_too_long_json_is_a_form_error_and_is_kept(raw: str, message: str) -> None:
    raw_form = post(EXAMPLE_PARAMS, {"use_raw_conf": "y", "raw_conf": raw})
    assert not raw_form.validate()
    assert message in raw_form.errors["raw_conf"][0]
    assert raw_form.raw_conf.data == raw
    params = {"rows": {"value": [], "schema": {"type": "array"}}}
    param_form = post(params, {"param__rows": raw})
    assert not param_form.validate()
    assert message in param_form.errors["param__rows"][0]


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    raw = '{"pattern": "' + "[" * 500 + '", "nested": ' + "[" * 31 + "]" * 31 + "}"  # 32 levels with the object
    form = post(EXAMPLE_PARAMS, {"use_raw_conf": "y", "raw_conf": raw})
    assert form.validate(), form.errors
    assert form.conf()["pattern"] == "[" * 500
