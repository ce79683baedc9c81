"""A trigger form built from a DAG's ``params``, as Airflow 3.3's ``/dags/{id}/details`` returns them.

Each param is ``{"value": default, "schema": {JSON schema}, "description": str,
"source": ...}``.  :func:`build_trigger_form` makes one WTForms field per param:

* ``enum`` -> a select; ``boolean`` -> a checkbox;
* ``integer`` / ``number`` -> a number input, with ``minimum`` / ``maximum``;
* ``string`` -> a text input with ``minLength`` / ``maxLength`` (``format``
  ``date`` and ``date-time`` get date pickers); ``array`` / ``object`` and
  anything else -> a JSON text area;
* a param is required when it has no default and its type does not allow ``null``.

Besides the params the form has an optional logical date (UTC), a note, and
a "raw JSON conf" toggle: when it is on, only the JSON text area is read and
validated.  Plain WTForms (no Flask): the caller passes ``request.form``; CSRF
is checked app-wide by Flask-WTF's ``CSRFProtect``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    Field,
    FloatField,
    Form,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from console.services.json_input import JsonInputError, parse_json_input

PARAM_PREFIX = "param__"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
MAX_NOTE = 1000


@dataclass(frozen=True)
class ParamSpec:
    """One DAG param, read from Airflow's payload."""

    name: str
    field_name: str
    kind: str  # string, integer, number, boolean, enum, date, date-time, json
    default: Any
    title: str
    description: str | None
    required: bool
    nullable: bool
    schema: Mapping[str, Any]


def _types(schema: Mapping[str, Any]) -> list[str]:
    raw = schema.get("type")
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        return [t for t in raw if isinstance(t, str)]
    return []


def _kind(schema: Mapping[str, Any], types: list[str]) -> str:
    main = [t for t in types if t != "null"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return "enum"
    if len(main) != 1:
        return "json"
    kind = main[0]
    if kind == "string" and schema.get("format") in ("date", "date-time"):
        return str(schema["format"])
    return kind if kind in ("string", "integer", "number", "boolean") else "json"


def read_params(params: Mapping[str, Any]) -> list[ParamSpec]:
    """Airflow's ``params`` dict -> :class:`ParamSpec` list, in the DAG's order."""
    specs = []
    for index, (name, raw) in enumerate(params.items()):
        entry: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {"value": raw}
        raw_schema = entry.get("schema")
        schema: Mapping[str, Any] = raw_schema if isinstance(raw_schema, Mapping) else {}
        types = _types(schema)
        default = entry.get("value")
        nullable = "null" in types or (None in (schema.get("enum") or []))
        specs.append(
            ParamSpec(
                name=str(name),
                field_name=PARAM_PREFIX + (str(name) if _SAFE_NAME.match(str(name)) else str(index)),
                kind=_kind(schema, types),
                default=default,
                title=str(schema.get("title") or name),
                description=entry.get("description") or schema.get("description"),
                required=default is None and not nullable,
                nullable=nullable,
                schema=schema,
            )
        )
    return specs


class JsonValue:
    """The field holds JSON (of ``expect``'s type, when given)."""

    def __init__(self, expect: type | None = None, label: str = "JSON") -> None:
        self.expect, self.label = expect, label

    def __call__(self, form: Form, field: Field) -> None:
        text = (field.data or "").strip()
        if not text:
            return
        try:
            value = parse_json_input(text)
        except JsonInputError as exc:
            raise ValidationError(str(exc)) from None
        if self.expect is not None and not isinstance(value, self.expect):
            raise ValidationError(f"Must be a JSON {self.label}.")


def _json_default(value: Any) -> str:
    return "" if value is None else json.dumps(value, indent=2, default=str)


def _field_for(spec: ParamSpec) -> Field:
    schema = spec.schema
    presence = [InputRequired()] if spec.required else [Optional()]
    kw: dict[str, Any] = {"label": spec.title, "description": spec.description or ""}
    if spec.kind == "boolean":
        return BooleanField(default=bool(spec.default), **kw)
    if spec.kind == "enum":
        values = ["" if v is None else str(v) for v in schema["enum"]]
        if not spec.required and spec.default is None and "" not in values:
            values.insert(0, "")
        choices = [SelectChoice(v, v or "(none)") for v in values]
        default = "" if spec.default is None else str(spec.default)
        return SelectField(choices=choices, default=default, validators=presence, **kw)
    if spec.kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        bounds = [NumberRange(min=low, max=high)] if low is not None or high is not None else []
        cls = IntegerField if spec.kind == "integer" else FloatField
        return cls(default=spec.default, validators=[*presence, *bounds], **kw)
    if spec.kind == "date":
        return DateField(default=_parse_date(spec.default), validators=presence, **kw)
    if spec.kind == "date-time":
        return DateTimeLocalField(
            default=_parse_datetime(spec.default), validators=presence, tz=UTC, format="%Y-%m-%dT%H:%M", **kw
        )
    if spec.kind == "string":
        length = []
        if "minLength" in schema or "maxLength" in schema:
            length = [Length(min=schema.get("minLength", -1), max=schema.get("maxLength", -1))]
        return StringField(default=spec.default, validators=[*presence, *length], **kw)
    main = [t for t in _types(schema) if t != "null"]
    expect, label = {"array": (list, "list"), "object": (dict, "object")}.get(main[0] if main else "", (None, "value"))
    return TextAreaField(default=_json_default(spec.default), validators=[*presence, JsonValue(expect, label)], **kw)


def _parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _parse_datetime(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed and parsed.tzinfo else parsed


class TriggerFormBase(Form):
    """The fields every trigger form has; :func:`build_trigger_form` adds the params."""

    param_specs: list[ParamSpec] = []

    logical_date = DateTimeLocalField(
        "Logical date (UTC)",
        validators=[Optional()],
        tz=UTC,
        format="%Y-%m-%dT%H:%M",
        description="Leave empty for a run without a logical date (Airflow 3's default for manual runs).",
    )
    note = TextAreaField("Note", validators=[Optional(), Length(max=MAX_NOTE)], description="Shown on the run.")
    use_raw_conf = BooleanField("Edit the conf as raw JSON instead")
    raw_conf = TextAreaField("Conf (JSON object)", validators=[JsonValue(dict, "object")])

    def validate(self, extra_validators: Mapping[str, Any] | None = None) -> bool:
        """Validate the param fields, or only the raw JSON when the toggle is on."""
        params = {spec.field_name for spec in self.param_specs}
        skipped = params if self.use_raw_conf.data else {"raw_conf"}
        ok = True
        for name, field in self._fields.items():
            if name in skipped:
                field.errors = []
            elif not field.validate(self, (extra_validators or {}).get(name, ())):
                ok = False
        return ok

    def conf(self) -> dict[str, Any]:
        """The ``conf`` to send, from a validated form."""
        if self.use_raw_conf.data:
            text = (self.raw_conf.data or "").strip()
            return parse_json_input(text) if text else {}
        out: dict[str, Any] = {}
        for spec in self.param_specs:
            present, value = _conf_value(spec, self[spec.field_name])
            if present:
                out[spec.name] = value
        return out

    def add_error(self, message: str) -> None:
        """Show ``message`` above the form (e.g. Airflow's refusal)."""
        self.form_errors.append(message)


def _conf_value(spec: ParamSpec, field: Field) -> tuple[bool, Any]:
    """``(present, value)``: an empty optional field is left out, so Airflow applies the default
    (or sends ``null`` when the param allows it)."""
    data = field.data
    if spec.kind == "boolean":
        return True, bool(data)
    if spec.kind == "enum":
        if data == "" and spec.nullable:
            return True, None
        return (data != "", next((v for v in spec.schema["enum"] if str(v) == data), data))
    if spec.kind == "string":
        if data in (None, "") and spec.nullable:
            return True, None
        return data is not None, data
    if spec.kind == "json":
        text = (data or "").strip()
        if not text:
            return spec.nullable, None
        return True, parse_json_input(text)
    if data is None:
        return spec.nullable, None
    if spec.kind == "date":
        return True, data.isoformat()
    if spec.kind == "date-time":
        return True, data.astimezone(UTC).isoformat()
    return True, data


def build_trigger_form(params: Mapping[str, Any], formdata: Any = None) -> TriggerFormBase:
    """A form for the DAG ``params``; ``formdata`` (e.g. ``request.form``) fills it on POST.

    The raw JSON area starts with the params' defaults, so switching to it
    starts from what the form shows.
    """
    specs = read_params(params)
    fields: dict[str, Any] = {spec.field_name: _field_for(spec) for spec in specs}
    form_class = type("TriggerForm", (TriggerFormBase,), {**fields, "param_specs": specs})
    defaults = {spec.name: spec.default for spec in specs}
    return form_class(formdata=formdata or None, raw_conf=json.dumps(defaults, indent=2, default=str))
