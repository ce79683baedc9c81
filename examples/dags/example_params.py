"""example_params: typed params, logged by the task."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task


@dag(
    dag_id="example_params",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "console", "params"],
    description="Typed params (string, integer, boolean, enum, required string) logged by one task.",
    doc_md="Exercises the console's trigger form: each param has a JSON-schema type; `ticket` is required.",
    default_args={"owner": "console", "retries": 0},
    params={
        "greeting": Param("hello", type="string", title="Greeting", description="Free text with a default."),
        "count": Param(
            3, type="integer", minimum=1, maximum=100, title="Count", description="Integer between 1 and 100."
        ),
        "dry_run": Param(False, type="boolean", title="Dry run", description="A boolean flag."),
        "color": Param(
            "red", type="string", enum=["red", "green", "blue"], title="Color", description="One of red, green, blue."
        ),
        "ticket": Param(type="string", minLength=1, title="Ticket", description="Required string without a default."),
    },
)
def example_params():
    @task
    def show_params(params=None) -> dict:
        received = {key: params[key] for key in params}
        for key, value in sorted(received.items()):
            print(f"param {key} = {value!r} ({type(value).__name__})")
        return received

    show_params()


example_params()
