"""example_generated: ``CONSOLE_SANDBOX_GENERATED_DAGS`` (default 0) small DAGs, ``generated_0000``
onwards, for measuring the console against a server with many DAGs.  They are paused at
creation and unscheduled, so they never run and never change what the other examples show."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

for number in range(int(os.environ.get("CONSOLE_SANDBOX_GENERATED_DAGS") or 0)):
    with DAG(
        dag_id=f"generated_{number:04d}",
        schedule=None,
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        is_paused_upon_creation=True,
        tags=["generated"],
        description="A generated DAG that never runs (many-DAGs measurements).",
    ) as generated:
        EmptyOperator(task_id="noop")
    globals()[generated.dag_id] = generated
