"""The form that asks for a backfill, and the request it makes.

A ``FlaskForm`` (CSRF checked): from and to dates (UTC days; both included: the backfill
covers the logical dates from the start of the first day to the start of the last), run
backwards, max active runs, reprocess behaviour and an optional conf (a JSON object).  A bad
value is a message on its field and nothing is sent to Airflow; the input is kept.  The same
fields travel, hidden, on the dry run's confirmation page, so the confirmed backfill is exactly
the one that was dry-run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import InputRequired, NumberRange

from console.airflow.backfills import REPROCESS_BEHAVIORS, BackfillRequest
from console.services.json_input import JsonInputError, parse_json_input

#: More concurrent runs than this is a typo (Airflow's own default is 10).
MAX_ACTIVE_RUNS_LIMIT = 1000
REPROCESS_LABELS = {
    "none": "None: skip dates that already have a run",
    "failed": "Failed: run again the dates whose run failed",
    "completed": "Completed: run again every date that has a finished run",
}


def _day(raw: str | None, label: str) -> date:
    text = (raw or "").strip()
    if not text:
        raise ValidationError(f"{label} is required.")
    message = f"{text[:40]!r} is not a date: use YYYY-MM-DD."
    if len(text) != 10:  # fromisoformat would also take 20240101 or a week date
        raise ValidationError(message)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(message) from None


class BackfillForm(FlaskForm):
    """A backfill of one DAG; :meth:`backfill_request` is the request once it validates."""

    from_date = StringField("From (UTC)", render_kw={"type": "date", "placeholder": "YYYY-MM-DD"})
    to_date = StringField("To (UTC, included)", render_kw={"type": "date", "placeholder": "YYYY-MM-DD"})
    run_backwards = BooleanField("Run backwards (newest date first)")
    max_active_runs = IntegerField(
        "Max active runs",
        default=10,
        validators=[
            InputRequired("Max active runs is required."),
            NumberRange(1, MAX_ACTIVE_RUNS_LIMIT, f"Max active runs must be between 1 and {MAX_ACTIVE_RUNS_LIMIT}."),
        ],
        render_kw={"min": 1, "max": MAX_ACTIVE_RUNS_LIMIT},
    )
    reprocess_behavior = SelectField(
        "Reprocess behaviour",
        choices=[SelectChoice(b, REPROCESS_LABELS[b]) for b in REPROCESS_BEHAVIORS],
        default="none",
    )
    conf = TextAreaField(
        "Conf (optional JSON object)",
        render_kw={"rows": 3, "spellcheck": "false", "class": "form-control text-monospace", "placeholder": "{}"},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Messages about the whole form (Airflow's refusal), shown above it.
        self.form_errors_list: list[str] = []

    def validate_from_date(self, field: StringField) -> None:
        _day(field.data, "The from date")

    def validate_to_date(self, field: StringField) -> None:
        last = _day(field.data, "The to date")
        try:
            first = _day(self.from_date.data, "The from date")
        except ValidationError:
            return
        if last < first:
            raise ValidationError("The to date is before the from date.")

    def validate_conf(self, field: TextAreaField) -> None:
        self._conf(field.data)

    @staticmethod
    def _conf(text: str | None) -> dict[str, Any] | None:
        if not (text or "").strip():
            return None
        try:
            value = parse_json_input(text or "")
        except JsonInputError as exc:
            raise ValidationError(str(exc)) from None
        if not isinstance(value, dict):
            raise ValidationError("The conf must be a JSON object ({...}).")
        return value

    def add_error(self, message: str) -> None:
        self.form_errors_list.append(message)

    @property
    def has_errors(self) -> bool:
        return bool(self.form_errors_list or any(f.errors for f in self))

    def backfill_request(self, dag_id: str) -> BackfillRequest:
        """The request the validated form asks for."""

        def midnight(day: date) -> datetime:
            return datetime(day.year, day.month, day.day, tzinfo=UTC)

        return BackfillRequest(
            dag_id=dag_id,
            from_date=midnight(_day(self.from_date.data, "The from date")),
            to_date=midnight(_day(self.to_date.data, "The to date")),
            run_backwards=bool(self.run_backwards.data),
            max_active_runs=int(self.max_active_runs.data or 0),
            reprocess_behavior=self.reprocess_behavior.data or "none",
            dag_run_conf=self._conf(self.conf.data),
        )
