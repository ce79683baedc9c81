"""Forms of the Variables, Pools and Connections screens (CSRF-checked ``FlaskForm``).

Sensitive fields are write-only: the form never holds their value, and a blank one keeps the
value Airflow has.  :func:`values_of` turns a validated form into the fields the service sends.
"""

from __future__ import annotations

import json
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

MONO = {"class": "form-control text-monospace", "spellcheck": "false", "autocomplete": "off"}


def _json_object(form: Any, field: Any) -> None:
    if field.data:
        try:
            parsed = json.loads(field.data)
        except ValueError:
            raise ValidationError("Not valid JSON.") from None
        if not isinstance(parsed, dict):
            raise ValidationError('Must be a JSON object: {"key": "value"}.')


class VariableForm(FlaskForm):
    key = StringField(
        "Key",
        validators=[InputRequired(), Length(max=250)],
        render_kw=MONO,
        description="A key containing password, secret, token, api_key... is sensitive: its value is hidden for good.",
    )
    value = TextAreaField("Value", validators=[Optional()], render_kw={**MONO, "rows": 5})
    description = TextAreaField("Description", validators=[Optional()], render_kw={"rows": 2})


class PoolForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=256)], render_kw=MONO)
    slots = IntegerField(
        "Slots", validators=[InputRequired(), NumberRange(min=-1)], default=1, description="-1 for unlimited."
    )
    description = TextAreaField("Description", validators=[Optional()], render_kw={"rows": 2})
    include_deferred = BooleanField("Deferred tasks take a slot")


class ConnectionForm(FlaskForm):
    connection_id = StringField("Connection id", validators=[InputRequired(), Length(max=200)], render_kw=MONO)
    conn_type = StringField("Type", validators=[InputRequired(), Length(max=500)], render_kw={"placeholder": "http"})
    description = TextAreaField("Description", validators=[Optional()], render_kw={"rows": 2})
    host = StringField("Host", validators=[Optional(), Length(max=500)])
    schema = StringField("Schema", validators=[Optional(), Length(max=500)])
    login = StringField("Login", validators=[Optional(), Length(max=500)])
    password = PasswordField("Password", validators=[Optional()], render_kw={"autocomplete": "new-password"})
    port = IntegerField("Port", validators=[Optional(), NumberRange(min=1, max=65535)])
    extra = TextAreaField("Extra (JSON)", validators=[Optional(), _json_object], render_kw={**MONO, "rows": 4})


class ImportForm(FlaskForm):
    text = TextAreaField(
        "Variables (JSON)",
        validators=[Optional()],
        render_kw={**MONO, "rows": 12, "placeholder": '{\n  "my_key": "my value",\n  "limits": {"rows": 100}\n}'},
    )


#: The form, the id field and the write-only fields of each kind.
FORMS: dict[str, type[FlaskForm]] = {"variable": VariableForm, "pool": PoolForm, "connection": ConnectionForm}
ID_FIELDS = {"variable": "key", "pool": "name", "connection": "connection_id"}


def values_of(form: FlaskForm, object_type: str, write_only: frozenset[str]) -> dict[str, Any]:
    """The object's fields from a validated form: blanks are ``None``; a blank write-only field
    is left out (it keeps its value)."""
    values: dict[str, Any] = {}
    for f in form:
        if f.name in ("csrf_token", ID_FIELDS[object_type]):
            continue
        data = f.data
        if isinstance(data, str) and not data.strip():
            data = None
        if data is None and f.name in write_only:
            continue
        values[f.name] = data
    return values
