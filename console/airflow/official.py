"""The parts of the official ``apache-airflow-client`` the console uses, typed.

Contract: importing this module imports ``airflow_client.client``, which takes
about 2 s (it builds hundreds of pydantic models); the app, its CLI and the
tests should not pay that just for importing the Airflow package, so import
this module inside a function (:class:`~console.airflow.session.AirflowSession`
does, when the first session is built) and under ``TYPE_CHECKING`` for types.

The API classes, the body models the console sends and the exceptions are
re-exported unchanged, except :class:`PathSafeApiClient`, which is the
official ``ApiClient`` with safe path parameters.
"""

from __future__ import annotations

from typing import Any

from airflow_client.client.api.backfill_api import BackfillApi
from airflow_client.client.api.config_api import ConfigApi
from airflow_client.client.api.connection_api import ConnectionApi
from airflow_client.client.api.dag_api import DAGApi
from airflow_client.client.api.dag_run_api import DagRunApi
from airflow_client.client.api.dag_source_api import DagSourceApi
from airflow_client.client.api.import_error_api import ImportErrorApi
from airflow_client.client.api.monitor_api import MonitorApi
from airflow_client.client.api.plugin_api import PluginApi
from airflow_client.client.api.pool_api import PoolApi
from airflow_client.client.api.provider_api import ProviderApi
from airflow_client.client.api.task_api import TaskApi
from airflow_client.client.api.task_instance_api import TaskInstanceApi
from airflow_client.client.api.variable_api import VariableApi
from airflow_client.client.api.version_api import VersionApi
from airflow_client.client.api.x_com_api import XComApi
from airflow_client.client.api_client import ApiClient
from airflow_client.client.configuration import Configuration
from airflow_client.client.exceptions import ApiException, OpenApiException
from airflow_client.client.models.backfill_post_body import BackfillPostBody
from airflow_client.client.models.clear_task_instances_body import ClearTaskInstancesBody
from airflow_client.client.models.clear_task_instances_body_task_ids_inner import ClearTaskInstancesBodyTaskIdsInner
from airflow_client.client.models.connection_body import ConnectionBody
from airflow_client.client.models.dag_patch_body import DAGPatchBody
from airflow_client.client.models.dag_run_mutable_states import DagRunMutableStates
from airflow_client.client.models.dag_run_patch_body import DAGRunPatchBody
from airflow_client.client.models.dag_run_state import DagRunState
from airflow_client.client.models.dag_runs_batch_body import DAGRunsBatchBody
from airflow_client.client.models.patch_task_instance_body import PatchTaskInstanceBody
from airflow_client.client.models.pool_body import PoolBody
from airflow_client.client.models.pool_patch_body import PoolPatchBody
from airflow_client.client.models.reprocess_behavior import ReprocessBehavior
from airflow_client.client.models.task_instance_state import TaskInstanceState
from airflow_client.client.models.task_instances_batch_body import TaskInstancesBatchBody
from airflow_client.client.models.trigger_dag_run_post_body import TriggerDAGRunPostBody
from airflow_client.client.models.variable_body import VariableBody

from console.airflow.ids import path_segment

__all__ = [
    "ApiException",
    "BackfillApi",
    "BackfillPostBody",
    "ClearTaskInstancesBody",
    "ClearTaskInstancesBodyTaskIdsInner",
    "ConfigApi",
    "Configuration",
    "ConnectionApi",
    "ConnectionBody",
    "DAGApi",
    "DAGPatchBody",
    "DAGRunPatchBody",
    "DAGRunsBatchBody",
    "DagRunApi",
    "DagRunMutableStates",
    "DagRunState",
    "DagSourceApi",
    "ImportErrorApi",
    "MonitorApi",
    "OpenApiException",
    "PatchTaskInstanceBody",
    "PathSafeApiClient",
    "PluginApi",
    "PoolApi",
    "PoolBody",
    "PoolPatchBody",
    "ProviderApi",
    "ReprocessBehavior",
    "TaskApi",
    "TaskInstanceApi",
    "TaskInstanceState",
    "TaskInstancesBatchBody",
    "TriggerDAGRunPostBody",
    "VariableApi",
    "VariableBody",
    "VersionApi",
    "XComApi",
    "is_request_side",
]


class PathSafeApiClient(ApiClient):
    """The official ``ApiClient`` with every path parameter encoded by :func:`path_segment`.

    The generated client quotes path parameters with ``safe=""`` but leaves ``.`` as it is, and
    urllib3 then resolves a ``..`` segment: ``get_dag_details("..")`` asked for
    ``/api/v2/details``.  Substituting the parameters here, before the generated code sees
    them, closes that for every operation at once.
    """

    def param_serialize(  # type: ignore[override]
        self, method: str, resource_path: str, path_params: Any = None, *a: Any, **kw: Any
    ) -> Any:
        for name, value in (path_params or {}).items():
            resource_path = resource_path.replace("{" + name + "}", path_segment(value))
        return super().param_serialize(method, resource_path, None, *a, **kw)


def is_request_side(exc: BaseException) -> bool:
    """Errors the official client raises while *building* a request."""
    return isinstance(exc, OpenApiException) and not isinstance(exc, ApiException)
