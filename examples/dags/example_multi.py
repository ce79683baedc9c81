"""example_multi: extract -> [transform_a, transform_b] -> load."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="example_multi",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "console", "etl"],
    description="Four tasks: extract fans out to two transforms which join in load.",
    doc_md="A small fan-out/fan-in graph (extract -> transform_a, transform_b -> load) passing XComs.",
    default_args={"owner": "console", "retries": 0},
)
def example_multi():
    @task
    def extract() -> list[int]:
        data = [1, 2, 3, 4]
        print(f"extracted {data}")
        return data

    @task
    def transform_a(data: list[int]) -> int:
        result = sum(data)
        print(f"transform_a: sum = {result}")
        return result

    @task
    def transform_b(data: list[int]) -> int:
        result = max(data)
        print(f"transform_b: max = {result}")
        return result

    @task
    def load(a: int, b: int) -> None:
        print(f"load: a={a} b={b}")

    data = extract()
    load(transform_a(data), transform_b(data))


example_multi()
