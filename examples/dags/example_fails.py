"""example_fails: a task that always raises."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="example_fails",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "console", "failure"],
    description="A task that always fails (no retries).",
    doc_md="Used to exercise failed runs in the console: `boom` raises `RuntimeError` and has `retries=0`.",
    default_args={"owner": "console", "retries": 0},
)
def example_fails():
    @task(retries=0)
    def boom() -> None:
        print("about to fail on purpose")
        raise RuntimeError("example_fails: this task fails on purpose")

    boom()


example_fails()
