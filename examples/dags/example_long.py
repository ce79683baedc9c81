"""example_long: runs for about 60 seconds, logging every second."""

from __future__ import annotations

import time

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="example_long",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "console", "long"],
    description="A task that runs ~60 s and logs a line every second.",
    doc_md="For live log tailing and for cancelling a running task from the console.",
    default_args={"owner": "console", "retries": 0},
)
def example_long():
    @task
    def tick(seconds: int = 60) -> int:
        for i in range(1, seconds + 1):
            print(f"tick {i}/{seconds}", flush=True)
            time.sleep(1)
        return seconds

    tick()


example_long()
