"""example_large_log: writes 50,000 log lines quickly."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

LINES = 50_000


@dag(
    dag_id="example_large_log",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "console", "logs"],
    description="A task that prints 50,000 log lines.",
    doc_md="For testing paging and streaming of large task logs in the console.",
    default_args={"owner": "console", "retries": 0},
)
def example_large_log():
    @task
    def spam() -> int:
        for i in range(1, LINES + 1):
            print(f"line {i:05d} of {LINES}: the quick brown fox jumps over the lazy dog")
        return LINES

    spam()


example_large_log()
