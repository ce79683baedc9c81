"""example_wide: about 200 tasks in task groups (one nested) and a mapped task, for the grid and
graph tabs.  Paused at creation and unscheduled, so it runs only when someone triggers it; its
operators are empty (the scheduler marks them done without starting a process) except the three
mapped ``shard`` instances."""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import dag, task, task_group

REGIONS = 8
PARTS = 22


@dag(
    dag_id="example_wide",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["console", "wide"],  # not "example": the list tests count those
    description="About 200 tasks in eight task groups, one nested group and a mapped task.",
    doc_md="A wide DAG for the console's grid and graph: start -> region_0 .. region_7 -> shard (mapped) -> end.",
    default_args={"owner": "console", "retries": 0},
)
def example_wide():
    previous = EmptyOperator(task_id="start")
    for region in range(REGIONS):

        @task_group(group_id=f"region_{region}")
        def one_region(with_checks: bool):
            validate = EmptyOperator(task_id="validate")
            merge = EmptyOperator(task_id="merge")
            parts = [EmptyOperator(task_id=f"part_{n:02d}") for n in range(PARTS)]
            validate >> parts >> merge
            if with_checks:

                @task_group(group_id="checks")
                def checks():
                    (
                        EmptyOperator(task_id="schema")
                        >> EmptyOperator(task_id="counts")
                        >> EmptyOperator(task_id="sign_off")
                    )

                merge >> checks()

        group = one_region(with_checks=region == 0)
        previous >> group
        previous = group

    @task
    def shard(number: int) -> int:
        return number * 2

    previous >> shard.expand(number=[1, 2, 3]) >> EmptyOperator(task_id="end")


example_wide()
