"""The task form. Field checks here are only the shape of the input; the rules live in
``console.services.tasks.clean``, whose messages the view puts next to each field."""

from __future__ import annotations

from flask_admin.form import Select2Field
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from console.models import MISFIRE_POLICIES
from console.services.cron import timezone_names


class TaskForm(FlaskForm):
    """Create or edit a task; the view fills the server and DAG choices per request."""

    name = StringField("Name", validators=[InputRequired(), Length(max=120)])
    description = TextAreaField("Description", validators=[Optional()], render_kw={"rows": 2})
    server_id = SelectField("Airflow server", coerce=int, validate_choice=False, validators=[InputRequired()])
    dag_id = SelectField(
        "DAG",
        validate_choice=False,
        validators=[InputRequired()],
        description="The DAGs of the chosen server, read from Airflow.",
    )
    conf_json = TextAreaField(
        "Conf (JSON object)",
        default="{}",
        render_kw={"rows": 5, "spellcheck": "false", "class": "form-control text-monospace"},
        description="Sent as the DAG run's conf. Use the DAG's params below to start from its defaults.",
    )
    cron = StringField(
        "Cron expression",
        validators=[InputRequired()],
        render_kw={
            "placeholder": "0 5 * * 1-5",
            "autocomplete": "off",
            "spellcheck": "false",
            "class": "form-control text-monospace",
        },
        description="minute hour day month weekday (or 6 fields with seconds first), or @daily, @hourly...",
    )
    timezone = Select2Field("Time zone", choices=[], default="UTC", validate_choice=False, validators=[InputRequired()])
    enabled = BooleanField("Enabled", default=True)
    misfire_policy = SelectField(
        "After scheduler downtime",
        choices=[SelectChoice(key, label) for key, label in MISFIRE_POLICIES.items()],
        default="skip",
    )
    retry_window_seconds = IntegerField(
        "Retry window (seconds)",
        default=900,
        validators=[InputRequired(), NumberRange(0, 7 * 24 * 3600)],
        description="How long to keep trying when Airflow is unavailable; then the run fails and is alerted.",
    )
    retry_backoff_seconds = IntegerField(
        "Retry backoff (seconds)",
        default=15,
        validators=[InputRequired(), NumberRange(1, 3600)],
        description="First wait between attempts; it doubles up to 8 times this.",
    )
    alert_emails = StringField(
        "Alert emails",
        validators=[Optional()],
        render_kw={"placeholder": "oncall@example.com, data-team@example.com"},
    )
    alert_webhook_url = StringField(
        "Alert webhook URL",
        validators=[Optional()],
        render_kw={"placeholder": "https://hooks.slack.com/services/...", "autocomplete": "off"},
        description="Receives a Slack-compatible JSON message when a run fails. Write-only: stored encrypted.",
    )
    remove_webhook = BooleanField("Remove the webhook", default=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Flask-Admin's Select2Field renders (value, label) pairs, not SelectChoice objects.
        self.timezone.choices = [(name, name) for name in timezone_names()]
