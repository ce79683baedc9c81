"""example_quick: one task that succeeds in about a second."""

from __future__ import annotations

import time

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="example_quick",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "console"],
    description="One task that succeeds in about one second.",
    doc_md="A single task that sleeps ~1 s and succeeds. The console's demo scheduler triggers it every minute.",
    default_args={"owner": "console", "retries": 0},
)
def example_quick():
    @task
    def say_hello() -> str:
        time.sleep(1)
        print("hello from example_quick")
        return "ok"

    say_hello()


example_quick()
