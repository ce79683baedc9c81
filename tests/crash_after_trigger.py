"""``python -m tests.crash_after_trigger``: the scheduler command (``manage.py scheduler``), made to
die the moment its first trigger call to Airflow returns, before the fire is recorded.

The exactly-once test runs it to crash a scheduler at the worst moment; the production code
knows nothing of it.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from typing import Any

from console.airflow.client import AirflowClient

#: The exit status that tells the test the crash came where it was injected.
CRASH_EXIT_STATUS = 86
MANAGE = Path(__file__).resolve().parents[1] / "manage.py"

real_trigger_dag_run = AirflowClient.trigger_dag_run


def trigger_then_crash(self: AirflowClient, *args: Any, **kwargs: Any) -> Any:
    try:
        return real_trigger_dag_run(self, *args, **kwargs)
    finally:
        os._exit(CRASH_EXIT_STATUS)


if __name__ == "__main__":
    AirflowClient.trigger_dag_run = trigger_then_crash  # type: ignore[method-assign]
    sys.argv = [str(MANAGE), "scheduler"]
    runpy.run_path(str(MANAGE), run_name="__main__")
