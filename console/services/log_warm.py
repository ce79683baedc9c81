"""Failed task logs open at once: the run monitor, when it sees a run of a console task fail,
reads the logs of its failed tasks into the log cache in the background (within the cache's
byte budget; with Redis also into the shared cache, see :mod:`console.services.log_cache`)."""

from __future__ import annotations

import logging

from console.airflow.errors import AirflowError
from console.models.states import TaskInstanceState
from console.services.log_cache import TooManyLogReads, log_memory
from console.services.logs import TaskLogRef, read_records
from console.services.server_clients import resolve_server

log = logging.getLogger(__name__)

#: Whose read slots warming takes (never a person's).
WARM_READER = "system:log-warm"


def warm_failed_logs(server_id: int, dag_id: str, run_id: str) -> list[TaskLogRef]:
    """Read the last try's log of every failed task of the run into the log cache, so that it
    opens at once (the run monitor calls this in the background when a run fails).  Within the
    cache's byte budget: a log larger than the budget is read but not kept.  Returns the logs
    now cached; a server that fails or is busy warms nothing (the viewer reads it later)."""
    server = resolve_server(server_id)
    warmed = []
    try:
        for ti in server.client.list_task_instances(dag_id, run_id):
            if ti.state != TaskInstanceState.FAILED or ti.try_number < 1:
                continue
            ref = TaskLogRef(server_id, dag_id, run_id, ti.task_id, ti.try_number, ti.map_index)
            read_records(server, ref, WARM_READER, ti)
            if ref.cache_key in log_memory().cache:
                warmed.append(ref)
    except (AirflowError, TooManyLogReads) as exc:
        log.warning("could not warm the failed logs of %s %s: %s", dag_id, run_id, exc)
    return warmed
