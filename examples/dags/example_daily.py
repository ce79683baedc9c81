"""example_daily: a daily DAG for backfills; paused when it first appears, so that only backfills run it."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="example_daily",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example", "console"],
    description="A daily schedule with two fast tasks; paused, for backfills.",
    doc_md="Runs once a day (paused by default). Backfill it from the DAG's Backfills tab.",
    default_args={"owner": "console", "retries": 0},
)
def example_daily():
    @task
    def extract(data_interval_start=None) -> str:
        day = data_interval_start.date().isoformat() if data_interval_start else "unknown"
        print(f"example_daily: processing {day}")
        return day

    @task
    def load(day: str) -> None:
        print(f"example_daily: loaded {day}")

    load(extract())


example_daily()
