"""The one way the console talks to Airflow 3 (REST API v2).

Two layers, like indico-plugins' vc_zoom client:

* :class:`AirflowSession` -- low level: base URL, the official
  ``apache-airflow-client`` (``airflow_client.client``) ``ApiClient`` and its
  API classes, the token (fetched from ``POST {base}/auth/token``, shared
  through :data:`console.airflow.tokens.TOKEN_CACHE`, refreshed once on a
  401), a ``(connect, read)`` timeout on every request, retries with
  exponential backoff for GETs only, and the mapping of every failure to an
  :mod:`console.airflow.errors` exception.
* :class:`AirflowClient` -- what the app uses: typed methods returning plain
  dataclasses (:class:`Dag`, :class:`DagRun`, ...) and dicts.  No pydantic
  model, ``ApiException`` or urllib3 object ever leaves this module.

How the official client is used: it builds every request (paths under
``/api/v2``, query and body serialisation, body models) and owns the urllib3
pool.  Every call goes through the generated ``*_without_preload_content``
variant, which returns the raw ``urllib3`` response; this module then checks
the status and parses the JSON itself into dataclasses.  The generated
pydantic response models are deliberately not used: they reject whole pages
for one unknown enum value (a new run state in a newer Airflow), validating a
50,000-line log through the ``Content`` anyOf model costs seconds, and the app
wants dataclasses anyway.  The two endpoints the client does not cover (the
token, ndjson streaming of logs) use the same urllib3 pool, timeouts, token
and error mapping.

No Flask here: the app builds an :class:`AirflowClient` from a server row.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from types import SimpleNamespace
from typing import Any

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from console.airflow.errors import (
    AirflowAuthError,
    AirflowBadRequest,
    AirflowConflict,
    AirflowError,
    AirflowNotFound,
    AirflowUnavailable,
    AirflowUnexpectedPayload,
)
from console.airflow.tokens import TOKEN_CACHE, TokenCache, fingerprint

log = logging.getLogger(__name__)

#: The v2 API never returns more than this many rows per page.
PAGE_SIZE = 100
#: Statuses worth retrying a GET on (transient overload / proxy trouble).
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Run states a person may set on a DAG run.
DAG_RUN_SETTABLE_STATES = ("success", "failed", "queued")
#: Task-instance states a person may set.
TASK_SETTABLE_STATES = ("success", "failed", "skipped")

_MAX_PAGES = 10_000
_MAX_REASON = 300

# --------------------------------------------------------------------------
# The official client, imported lazily: ``import airflow_client.client`` takes
# ~2 s (it builds hundreds of pydantic models), which the app, its CLI and the
# tests should not pay just for importing this module.
# --------------------------------------------------------------------------
_official_lock = threading.Lock()
_official_ns: SimpleNamespace | None = None


def _official() -> SimpleNamespace:
    global _official_ns
    with _official_lock:
        if _official_ns is None:
            from airflow_client.client.api.dag_api import DAGApi
            from airflow_client.client.api.dag_run_api import DagRunApi
            from airflow_client.client.api.monitor_api import MonitorApi
            from airflow_client.client.api.task_instance_api import TaskInstanceApi
            from airflow_client.client.api.version_api import VersionApi
            from airflow_client.client.api_client import ApiClient
            from airflow_client.client.configuration import Configuration
            from airflow_client.client.exceptions import ApiException, OpenApiException
            from airflow_client.client.models.clear_task_instances_body import ClearTaskInstancesBody
            from airflow_client.client.models.clear_task_instances_body_task_ids_inner import (
                ClearTaskInstancesBodyTaskIdsInner,
            )
            from airflow_client.client.models.dag_patch_body import DAGPatchBody
            from airflow_client.client.models.dag_run_mutable_states import DagRunMutableStates
            from airflow_client.client.models.dag_run_patch_body import DAGRunPatchBody
            from airflow_client.client.models.patch_task_instance_body import PatchTaskInstanceBody
            from airflow_client.client.models.task_instance_state import TaskInstanceState
            from airflow_client.client.models.trigger_dag_run_post_body import TriggerDAGRunPostBody

            _official_ns = SimpleNamespace(
                DAGApi=DAGApi,
                DagRunApi=DagRunApi,
                MonitorApi=MonitorApi,
                TaskInstanceApi=TaskInstanceApi,
                VersionApi=VersionApi,
                ApiClient=ApiClient,
                Configuration=Configuration,
                ApiException=ApiException,
                OpenApiException=OpenApiException,
                ClearTaskInstancesBody=ClearTaskInstancesBody,
                ClearTaskInstancesBodyTaskIdsInner=ClearTaskInstancesBodyTaskIdsInner,
                DAGPatchBody=DAGPatchBody,
                DagRunMutableStates=DagRunMutableStates,
                DAGRunPatchBody=DAGRunPatchBody,
                PatchTaskInstanceBody=PatchTaskInstanceBody,
                TaskInstanceState=TaskInstanceState,
                TriggerDAGRunPostBody=TriggerDAGRunPostBody,
            )
        return _official_ns


# --------------------------------------------------------------------------
# Plain results
# --------------------------------------------------------------------------


class _Plain:
    """``to_dict()`` for the result dataclasses: JSON-ready (ISO datetimes)."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in dataclasses.asdict(self).items()}  # type: ignore[call-overload]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Dag(_Plain):
    dag_id: str
    dag_display_name: str
    is_paused: bool
    is_stale: bool
    has_import_errors: bool
    description: str | None
    owners: list[str]
    tags: list[str]
    timetable_summary: str | None
    timetable_description: str | None
    next_dagrun_logical_date: datetime | None
    next_dagrun_run_after: datetime | None
    max_active_runs: int | None
    fileloc: str | None
    file_token: str | None
    bundle_name: str | None


@dataclass(frozen=True, slots=True)
class DagDetails(Dag):
    #: ``params`` exactly as Airflow returns them: ``{name: {"value": ...,
    #: "schema": {...}, "description": ..., "__class": ...}}``.
    params: dict[str, Any]
    doc_md: str | None
    catchup: bool | None
    start_date: datetime | None
    end_date: datetime | None
    timezone: str | None
    default_args: dict[str, Any]
    active_runs_count: int | None


@dataclass(frozen=True, slots=True)
class DagRun(_Plain):
    dag_id: str
    run_id: str
    state: str
    run_type: str
    logical_date: datetime | None
    run_after: datetime | None
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    #: Seconds, as Airflow computes it (``None`` while running).
    duration: float | None
    note: str | None
    conf: dict[str, Any]
    triggered_by: str | None
    triggering_user_name: str | None
    dag_display_name: str | None


@dataclass(frozen=True, slots=True)
class TaskInstance(_Plain):
    dag_id: str
    run_id: str
    task_id: str
    task_display_name: str | None
    map_index: int
    state: str | None
    try_number: int
    max_tries: int | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    #: Operator class name, e.g. ``_PythonDecoratedOperator``.
    operator: str | None
    #: What the author wrote, e.g. ``@task`` or ``BashOperator``.
    operator_name: str | None
    hostname: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class LogLine(_Plain):
    timestamp: datetime | None
    level: str | None
    event: str
    #: Every other key of the structured message (logger, filename, ...).
    extra: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LogPage(_Plain):
    lines: list[LogLine]
    continuation_token: str | None


# --------------------------------------------------------------------------
# Payload reading helpers: JSON dict -> typed values, or _Bad(field)
# --------------------------------------------------------------------------


class _Bad(Exception):
    """A field is missing or of the wrong type."""


def _dict(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(name)
    return value


def _str(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise _Bad(key)
    return value


def _ostr(d: dict[str, Any], key: str) -> str | None:
    value = d.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _Bad(key)


def _bool(d: dict[str, Any], key: str, default: bool | None = None) -> bool:
    value = d.get(key, default)
    if not isinstance(value, bool):
        raise _Bad(key)
    return value


def _obool(d: dict[str, Any], key: str) -> bool | None:
    value = d.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _Bad(key)


def _oint(d: dict[str, Any], key: str) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(key)
    return value


def _int(d: dict[str, Any], key: str) -> int:
    value = _oint(d, key)
    if value is None:
        raise _Bad(key)
    return value


def _ofloat(d: dict[str, Any], key: str) -> float | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(key)
    return float(value)


def _parse_dt(value: Any, key: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Bad(key)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(key) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _odt(d: dict[str, Any], key: str) -> datetime | None:
    return _parse_dt(d.get(key), key)


def _odict(d: dict[str, Any], key: str) -> dict[str, Any]:
    value = d.get(key)
    if value is None:
        return {}
    return _dict(value, key)


def _strlist(d: dict[str, Any], key: str) -> list[str]:
    value = d.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad(key)
    return list(value)


def _list(d: dict[str, Any], key: str) -> list[Any]:
    value = d.get(key)
    if not isinstance(value, list):
        raise _Bad(key)
    return value


def _dag_fields(d: dict[str, Any]) -> dict[str, Any]:
    tags = []
    for tag in d.get("tags") or []:
        if isinstance(tag, str):
            tags.append(tag)
        else:
            tags.append(_str(_dict(tag, "tags"), "name"))
    dag_id = _str(d, "dag_id")
    return {
        "dag_id": dag_id,
        "dag_display_name": _ostr(d, "dag_display_name") or dag_id,
        "is_paused": _bool(d, "is_paused"),
        "is_stale": _bool(d, "is_stale", False),
        "has_import_errors": _bool(d, "has_import_errors", False),
        "description": _ostr(d, "description"),
        "owners": _strlist(d, "owners"),
        "tags": tags,
        "timetable_summary": _ostr(d, "timetable_summary"),
        "timetable_description": _ostr(d, "timetable_description"),
        "next_dagrun_logical_date": _odt(d, "next_dagrun_logical_date"),
        "next_dagrun_run_after": _odt(d, "next_dagrun_run_after"),
        "max_active_runs": _oint(d, "max_active_runs"),
        "fileloc": _ostr(d, "fileloc"),
        "file_token": _ostr(d, "file_token"),
        "bundle_name": _ostr(d, "bundle_name"),
    }


def _parse_dag(raw: Any) -> Dag:
    return Dag(**_dag_fields(_dict(raw, "dag")))


def _parse_dag_details(raw: Any) -> DagDetails:
    d = _dict(raw, "dag")
    return DagDetails(
        **_dag_fields(d),
        params=_odict(d, "params"),
        doc_md=_ostr(d, "doc_md"),
        catchup=_obool(d, "catchup"),
        start_date=_odt(d, "start_date"),
        end_date=_odt(d, "end_date"),
        timezone=_ostr(d, "timezone"),
        default_args=_odict(d, "default_args"),
        active_runs_count=_oint(d, "active_runs_count"),
    )


def _parse_dag_run(raw: Any) -> DagRun:
    d = _dict(raw, "dag_run")
    return DagRun(
        dag_id=_str(d, "dag_id"),
        run_id=_str(d, "dag_run_id"),
        state=_str(d, "state"),
        run_type=_str(d, "run_type"),
        logical_date=_odt(d, "logical_date"),
        run_after=_odt(d, "run_after"),
        queued_at=_odt(d, "queued_at"),
        start_date=_odt(d, "start_date"),
        end_date=_odt(d, "end_date"),
        duration=_ofloat(d, "duration"),
        note=_ostr(d, "note"),
        conf=_odict(d, "conf"),
        triggered_by=_ostr(d, "triggered_by"),
        triggering_user_name=_ostr(d, "triggering_user_name"),
        dag_display_name=_ostr(d, "dag_display_name"),
    )


def _parse_task_instance(raw: Any) -> TaskInstance:
    d = _dict(raw, "task_instance")
    return TaskInstance(
        dag_id=_str(d, "dag_id"),
        run_id=_str(d, "dag_run_id"),
        task_id=_str(d, "task_id"),
        task_display_name=_ostr(d, "task_display_name"),
        map_index=_int(d, "map_index"),
        state=_ostr(d, "state"),
        try_number=_int(d, "try_number"),
        max_tries=_oint(d, "max_tries"),
        start_date=_odt(d, "start_date"),
        end_date=_odt(d, "end_date"),
        duration=_ofloat(d, "duration"),
        operator=_ostr(d, "operator"),
        operator_name=_ostr(d, "operator_name"),
        hostname=_ostr(d, "hostname"),
        note=_ostr(d, "note"),
    )


def parse_log_line(raw: Any) -> LogLine:
    """One log message -> :class:`LogLine`.  Airflow 3 sends structured
    messages (dicts with ``event``, ``timestamp``, ``level``...); older task
    logs may be plain strings."""
    if isinstance(raw, str):
        return LogLine(timestamp=None, level=None, event=raw, extra={})
    d = _dict(raw, "log line")
    event = d.get("event")
    extra = {k: v for k, v in d.items() if k not in ("event", "timestamp", "level")}
    try:
        timestamp = _odt(d, "timestamp")
    except _Bad:
        timestamp, extra["timestamp"] = None, d.get("timestamp")
    level = d.get("level")
    return LogLine(
        timestamp=timestamp,
        level=level if isinstance(level, str) else None,
        event=event if isinstance(event, str) else ("" if event is None else str(event)),
        extra=extra,
    )


# --------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------


def _shorten(text: str, limit: int = _MAX_REASON) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def readable_detail(body: bytes | str | None) -> str | None:
    """Airflow's error ``detail`` as one short readable sentence, or ``None``.

    ``detail`` is a string (``"Dag with dag_id: 'x' not found"``; for invalid
    params a jsonschema report whose first paragraph is kept), a list of
    FastAPI validation errors (rendered ``field: message``, never echoing the
    ``input`` -- which may hold a password), or a dict (``reason``).
    """
    if not body:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, str):
        return _shorten(detail.split("\n\n", 1)[0]) or None
    if isinstance(detail, list):
        parts = []
        for item in detail[:5]:
            if not isinstance(item, dict):
                continue
            loc = [str(x) for x in item.get("loc") or [] if x not in ("body", "query", "path")]
            msg = str(item.get("msg") or "invalid")
            parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
        return _shorten("; ".join(parts)) or None
    if isinstance(detail, dict):
        for key in ("reason", "message", "detail"):
            if isinstance(detail.get(key), str):
                return _shorten(detail[key])
    return None


def normalize_base_url(base_url: str) -> str:
    """``http://host:8080/`` or ``.../api/v2`` -> ``http://host:8080``."""
    url = (base_url or "").strip().rstrip("/")
    for suffix in ("/api/v2", "/api/v1", "/api"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    if not re.match(r"^https?://[^/]", url):
        raise ValueError(f"not an http(s) URL: {base_url!r}")
    return url


# --------------------------------------------------------------------------
# Low level: the session
# --------------------------------------------------------------------------

Send = Callable[[dict[str, str]], Any]


class AirflowSession:
    """Base URL, token, timeouts, retries and error mapping for one server.

    ``attempts`` counts tries (3 = one try and two retries), waiting
    ``backoff``, ``2*backoff``, ... in between; only idempotent requests
    (GETs, and the token request) are ever retried, and only on connection
    errors, timeouts and HTTP 429/502/503/504.
    """

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        static_token: str | None = None,
        verify_tls: bool = True,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        name: str = "server",
        attempts: int = 3,
        backoff: float = 0.2,
        token_cache: TokenCache | None = None,
    ) -> None:
        self.name = name
        if static_token and (username or password):
            raise AirflowError(name, "misconfigured: give either a static token or a username and password")
        if password and not username:
            raise AirflowError(name, "misconfigured: a password needs a username")
        try:
            self.base_url = normalize_base_url(base_url)
        except ValueError as exc:
            raise AirflowError(name, f"misconfigured: {exc}") from None
        self.username = username
        self._password = password
        self._static_token = static_token or None
        self._secret_fp = fingerprint(password)
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.attempts = max(1, int(attempts))
        self.backoff = float(backoff)
        self._tokens = TOKEN_CACHE if token_cache is None else token_cache
        self._token_key = (self.base_url, username or "")
        self._sleep = time.sleep

        o = _official()
        self.o = o
        config = o.Configuration(host=self.base_url)
        config.verify_ssl = verify_tls
        # urllib3 must not retry on its own: its default would also retry
        # connection errors of a POST.  Retries happen in _execute, GETs only.
        config.retries = False
        self.api_client = o.ApiClient(config)
        self.api_client.user_agent = "airflow-console"
        self.pool: urllib3.PoolManager = self.api_client.rest_client.pool_manager
        self.dag_api = o.DAGApi(self.api_client)
        self.dag_run_api = o.DagRunApi(self.api_client)
        self.task_instance_api = o.TaskInstanceApi(self.api_client)
        self.version_api = o.VersionApi(self.api_client)
        self.monitor_api = o.MonitorApi(self.api_client)

    # -- public low-level entry points ------------------------------------

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    def call(self, what: str, operation: Callable[..., Any], *args: Any, idempotent: bool, **kwargs: Any) -> Any:
        """Run a generated ``*_without_preload_content`` operation; return its
        decoded JSON (``None`` for an empty answer).  ``what`` says what was
        being done, for messages ("list DAGs")."""
        headers = kwargs.pop("_headers", None) or {}
        timeout = self._timeout_for(kwargs.pop("_read_timeout", None))

        def send(auth: dict[str, str]) -> Any:
            return operation(*args, _request_timeout=timeout, _headers={**headers, **auth}, **kwargs)

        _status, resp_headers, body = self._execute(what, send, idempotent=idempotent)
        return self._decode_json(what, body, resp_headers)

    def stream(self, what: str, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Like :meth:`call` for a GET, but return the open urllib3 response
        (status already checked) for the caller to stream and close."""
        headers = kwargs.pop("_headers", None) or {}
        timeout = self._timeout_for(kwargs.pop("_read_timeout", None))

        def send(auth: dict[str, str]) -> Any:
            return operation(*args, _request_timeout=timeout, _headers={**headers, **auth}, **kwargs)

        return self._execute(what, send, idempotent=True, stream=True)

    def _timeout_for(self, read_timeout: float | None) -> tuple[float, float]:
        """``(connect, read)``; ``read_timeout`` overrides the read part."""
        return (self.connect_timeout, self.read_timeout if read_timeout is None else float(read_timeout))

    def token(self) -> str | None:
        """The bearer token to use now (cached, fetched if needed); ``None``
        when the server is used without authentication."""
        if self._static_token:
            return self._static_token
        if not self.username:
            return None
        cached = self._tokens.get(self._token_key, self._secret_fp)
        if cached:
            return cached
        with self._tokens.lock_for(self._token_key):
            cached = self._tokens.get(self._token_key, self._secret_fp)
            if cached:
                return cached
            token = self._fetch_token()
            self._tokens.put(self._token_key, token, self._secret_fp)
            return token

    def forget_token(self, token: str | None = None) -> None:
        self._tokens.invalidate(self._token_key, token)

    # -- internals ---------------------------------------------------------

    def _fetch_token(self) -> str:
        what = "log in"
        body = json.dumps({"username": self.username, "password": self._password or ""})

        def send(_auth: dict[str, str]) -> Any:
            return self.pool.request(
                "POST",
                self.base_url + "/auth/token",
                body=body,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                timeout=urllib3.Timeout(connect=self.connect_timeout, read=self.read_timeout),
                preload_content=False,
                retries=False,
            )

        try:
            # The token request changes nothing on the server: safe to retry.
            _status, headers, raw = self._execute(what, send, idempotent=True, authenticate=False)
        except AirflowAuthError as exc:
            raise AirflowAuthError(
                self.name, f"login refused for user {self.username!r}: wrong username or password", status=exc.status
            ) from None
        data = self._decode_json(what, raw, headers)
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise AirflowUnexpectedPayload(self.name, "cannot log in: the answer holds no access_token")
        return token

    def _backoff_sleep(self, attempt: int) -> None:
        self._sleep(self.backoff * (2 ** (attempt - 1)))

    def _execute(
        self,
        what: str,
        send: Send,
        *,
        idempotent: bool,
        authenticate: bool = True,
        stream: bool = False,
    ) -> Any:
        """Send with auth, one token refresh on 401, retries for idempotent
        requests; map every failure to an :class:`AirflowError`.

        Returns ``(status, headers, body_bytes)``, or with ``stream=True`` the
        open urllib3 response of a 2xx answer.
        """
        o = self.o
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            token = self.token() if authenticate else None
            auth = {"Authorization": f"Bearer {token}"} if token else {}
            resp = None
            try:
                resp = send(auth)
                status = int(resp.status)
                if stream and 200 <= status < 300:
                    return resp
                body = resp.data  # whole answer (errors and JSON pages are small)
                resp.release_conn()
            except (HTTPError, OSError, o.OpenApiException) as exc:
                if resp is not None:
                    resp.close()
                if _is_request_side(exc, o):
                    raise self._bad_arguments(what, exc) from None
                if idempotent and attempt < self.attempts:
                    log.info("Airflow %s: %s failed (%s), retrying", self.name, what, type(exc).__name__)
                    self._backoff_sleep(attempt)
                    continue
                raise self._unavailable(what, exc, attempt) from None
            except ValueError as exc:  # pydantic ValidationError of the arguments
                raise self._bad_arguments(what, exc) from None

            if status == 401 and authenticate and token and not self._static_token and not refreshed:
                # The cached token expired early or the server's secret changed.
                self.forget_token(token)
                refreshed = True
                attempt -= 1
                continue
            if idempotent and status in RETRY_STATUSES and attempt < self.attempts:
                log.info("Airflow %s: %s answered %s, retrying", self.name, what, status)
                self._backoff_sleep(attempt)
                continue
            if 200 <= status < 300:
                return status, resp.headers, body
            raise self._http_error(what, status, body, resp.headers)

    def _decode_json(self, what: str, body: bytes, headers: Any) -> Any:
        if not body:
            return None
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            ctype = (headers.get("Content-Type") if headers is not None else None) or "unknown type"
            hint = " (is the base URL the Airflow API server's?)" if "html" in ctype else ""
            raise AirflowUnexpectedPayload(
                self.name, f"cannot {what}: the answer is not JSON ({ctype.split(';')[0]}){hint}"
            ) from None

    def _scrub(self, text: str) -> str:
        for secret in (self._password, self._static_token):
            if secret:
                text = text.replace(secret, "***")
        cached = self._tokens.get(self._token_key, self._secret_fp) if self.username else None
        if cached:
            text = text.replace(cached, "***")
        # Any JWT-looking string, whoever's.
        return re.sub(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]+", "***", text)

    def _error(self, cls: type[AirflowError], reason: str, status: int | None = None) -> AirflowError:
        return cls(self.name, self._scrub(reason), status=status)

    def _bad_arguments(self, what: str, exc: Exception) -> AirflowError:
        errors = getattr(exc, "errors", None)
        detail = ""
        if callable(errors):
            try:
                first = errors()[0]
                loc = ".".join(str(x) for x in first.get("loc", ()))
                detail = f"{loc}: {first.get('msg')}" if loc else str(first.get("msg"))
            except (IndexError, TypeError, AttributeError):
                detail = ""
        return self._error(
            AirflowBadRequest, _shorten(f"cannot {what}: invalid arguments ({detail or type(exc).__name__})")
        )

    def _unavailable(self, what: str, exc: BaseException, tries: int = 1) -> AirflowError:
        text = str(exc).lower()
        # NewConnectionError subclasses ConnectTimeoutError: test it first.
        if isinstance(exc, NameResolutionError) or "name or service not known" in text:
            why = "its host name cannot be resolved"
        elif isinstance(exc, NewConnectionError) and "refused" in text:
            why = "connection refused"
        elif isinstance(exc, ConnectTimeoutError) and (not isinstance(exc, NewConnectionError) or "timed out" in text):
            why = f"no connection within {self.connect_timeout:g} s"
        elif isinstance(exc, NewConnectionError):
            why = "cannot connect"
        elif isinstance(exc, ReadTimeoutError):
            why = f"no answer within {self.read_timeout:g} s"
        elif isinstance(exc, SSLError) or (isinstance(exc, self.o.ApiException) and exc.status == 0):
            why = "TLS error (" + _shorten(str(getattr(exc, "reason", exc)).split("\n")[-1], 120) + ")"
        elif isinstance(exc, ProtocolError):
            why = "the connection was dropped"
        else:
            why = f"request failed ({type(exc).__name__})"
        after = f" after {tries} tries" if tries > 1 else ""
        return self._error(AirflowUnavailable, f"cannot {what}: {why}{after}")

    def _http_error(self, what: str, status: int, body: bytes, headers: Any) -> AirflowError:
        detail = readable_detail(body)
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "error"
        if status == 401:
            if self._static_token:
                why = "the API token was refused (expired or wrong?)"
            elif self.username:
                why = "the login token was refused even after logging in again"
            else:
                why = "authentication required (no credentials configured)"
            return self._error(AirflowAuthError, f"cannot {what}: {why}", status)
        if status == 403:
            who = f"user {self.username!r}" if self.username else "this token"
            return self._error(AirflowAuthError, f"cannot {what}: {who} is not allowed to (403 Forbidden)", status)
        if status == 404:
            return self._error(AirflowNotFound, f"cannot {what}: {detail or 'not found'}", status)
        if status == 409:
            return self._error(AirflowConflict, f"cannot {what}: {detail or 'conflict'}", status)
        if status in (400, 422):
            return self._error(AirflowBadRequest, f"cannot {what}: {detail or phrase}", status)
        if status == 429 or status >= 500:
            return self._error(AirflowUnavailable, f"cannot {what}: Airflow answered {status} {phrase}", status)
        if 300 <= status < 400:
            where = headers.get("Location") if headers is not None else None
            return self._error(
                AirflowUnexpectedPayload,
                f"cannot {what}: redirected{' to ' + _shorten(where, 100) if where else ''}"
                " (is the base URL the Airflow API server's?)",
                status,
            )
        return self._error(AirflowError, f"cannot {what}: Airflow answered {status} {detail or phrase}", status)


def _is_request_side(exc: BaseException, o: SimpleNamespace) -> bool:
    """Errors the official client raises while *building* a request."""
    return isinstance(exc, o.OpenApiException) and not isinstance(exc, o.ApiException)


# --------------------------------------------------------------------------
# App-facing facade
# --------------------------------------------------------------------------


class LogLineStream(Iterator[LogLine]):
    """Log lines read one by one from an ndjson answer; closes the connection
    when exhausted, on ``close()``, or as a context manager."""

    def __init__(self, session: AirflowSession, what: str, response: Any, chunk_size: int = 64 * 1024) -> None:
        self._session = session
        self._what = what
        self._response = response
        self._lines = self._generate(chunk_size)
        self._done = False

    def _generate(self, chunk_size: int) -> Iterator[LogLine]:
        buffer = b""
        for chunk in self._response.stream(chunk_size, decode_content=True):
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for raw in complete:
                line = self._parse(raw)
                if line is not None:
                    yield line
        line = self._parse(buffer)
        if line is not None:
            yield line

    def _parse(self, raw: bytes) -> LogLine | None:
        raw = raw.strip()
        if not raw:
            return None
        try:
            return parse_log_line(json.loads(raw))
        except (ValueError, UnicodeDecodeError, _Bad):
            # Not a JSON message: keep the text rather than lose the line.
            return LogLine(timestamp=None, level=None, event=raw.decode("utf-8", "replace"), extra={})

    def __iter__(self) -> LogLineStream:
        return self

    def __next__(self) -> LogLine:
        if self._done:
            raise StopIteration
        try:
            return next(self._lines)
        except StopIteration:
            self._finish(release=True)
            raise
        except (HTTPError, OSError) as exc:
            self._finish(release=False)
            raise self._session._unavailable(self._what, exc) from None

    def _finish(self, *, release: bool) -> None:
        if not self._done:
            self._done = True
            if release:
                self._response.release_conn()
            else:
                self._response.close()

    def close(self) -> None:
        self._finish(release=False)

    def __enter__(self) -> LogLineStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # never raise from a finaliser
            self.close()


class AirflowClient:
    """Typed access to one Airflow 3 server; every method raises only
    :class:`~console.airflow.errors.AirflowError` subclasses."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        static_token: str | None = None,
        verify_tls: bool = True,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        name: str = "server",
        attempts: int = 3,
        backoff: float = 0.2,
        token_cache: TokenCache | None = None,
    ) -> None:
        self.session = AirflowSession(
            base_url,
            username=username,
            password=password,
            static_token=static_token,
            verify_tls=verify_tls,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            name=name,
            attempts=attempts,
            backoff=backoff,
            token_cache=token_cache,
        )
        self.name = name
        self.base_url = self.session.base_url

    def __repr__(self) -> str:
        return f"AirflowClient(name={self.name!r}, base_url={self.base_url!r})"

    # -- helpers -------------------------------------------------------------

    def _get(self, what: str, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.session.call(what, operation, *args, idempotent=True, **kwargs)

    def _write(self, what: str, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.session.call(what, operation, *args, idempotent=False, **kwargs)

    def _parse(self, what: str, parser: Callable[[Any], Any], raw: Any) -> Any:
        try:
            return parser(raw)
        except _Bad as exc:
            raise self.session._error(
                AirflowUnexpectedPayload, f"cannot {what}: unexpected answer ({exc.args[0]!s} missing or invalid)"
            ) from None

    def _parse_many(self, what: str, parser: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        return self._parse(what, lambda rows: [parser(r) for r in rows], list(items))

    def _pages(
        self,
        what: str,
        key: str,
        fetch: Callable[[int, int], Any],
        *,
        max_items: int | None = None,
    ) -> list[Any]:
        """Follow ``total_entries`` with ``limit``/``offset`` pages of at most
        :data:`PAGE_SIZE` rows; ``fetch(limit, offset)`` returns the JSON."""
        rows: list[Any] = []
        offset = 0
        for _ in range(_MAX_PAGES):
            limit = PAGE_SIZE if max_items is None else min(PAGE_SIZE, max_items - len(rows))
            if limit <= 0:
                break
            data = fetch(limit, offset)
            try:
                page = _list(_dict(data, "answer"), key)
                total = _oint(data, "total_entries")
            except _Bad as exc:
                raise self.session._error(
                    AirflowUnexpectedPayload, f"cannot {what}: unexpected answer ({exc.args[0]} missing or invalid)"
                ) from None
            rows.extend(page)
            offset += len(page)
            if not page or (total is not None and offset >= total) or (total is None and len(page) < limit):
                break
        return rows

    # -- server -----------------------------------------------------------

    def version(self) -> dict[str, str | None]:
        """``{"version": "3.3.2", "git_version": "..."}``"""
        what = "read the version"
        data = self._get(what, self.session.version_api.get_version_without_preload_content)
        return self._parse(
            what,
            lambda d: {"version": _str(_dict(d, "answer"), "version"), "git_version": _ostr(d, "git_version")},
            data,
        )

    def health(self) -> dict[str, str | None]:
        """``{"metadatabase": "healthy", "scheduler": "healthy", ...}``"""
        what = "read the health"
        data = self._get(what, self.session.monitor_api.get_health_without_preload_content)

        def parse(d: Any) -> dict[str, str | None]:
            out: dict[str, str | None] = {}
            for component, info in _dict(d, "answer").items():
                out[component] = None if info is None else _ostr(_dict(info, component), "status")
            return out

        return self._parse(what, parse, data)

    # -- DAGs ---------------------------------------------------------------

    def list_dags(
        self,
        *,
        paused: bool | None = None,
        tags: list[str] | None = None,
        search: str | None = None,
    ) -> list[Dag]:
        """Every (non-stale) DAG, ordered by id, all pages.  ``search`` is a
        case-insensitive substring of the display name (which defaults to the
        id); ``tags`` match any of the given tags."""
        what = "list DAGs"
        api = self.session.dag_api

        def fetch(limit: int, offset: int) -> Any:
            return self._get(
                what,
                api.get_dags_without_preload_content,
                limit=limit,
                offset=offset,
                paused=paused,
                tags=list(tags) if tags else None,
                dag_display_name_pattern=search or None,
                order_by=["dag_id"],
            )

        dags = self._parse_many(what, _parse_dag, self._pages(what, "dags", fetch))
        seen: set[str] = set()
        unique = []
        for dag in dags:  # a DAG added between two pages may shift one row
            if dag.dag_id not in seen:
                seen.add(dag.dag_id)
                unique.append(dag)
        return unique

    def get_dag(self, dag_id: str) -> Dag:
        what = f"read DAG {dag_id!r}"
        return self._parse(
            what, _parse_dag, self._get(what, self.session.dag_api.get_dag_without_preload_content, dag_id)
        )

    def get_dag_details(self, dag_id: str) -> DagDetails:
        what = f"read DAG {dag_id!r}"
        data = self._get(what, self.session.dag_api.get_dag_details_without_preload_content, dag_id)
        return self._parse(what, _parse_dag_details, data)

    def set_paused(self, dag_id: str, paused: bool) -> Dag:
        what = f"{'pause' if paused else 'unpause'} DAG {dag_id!r}"
        o = self.session.o
        data = self._write(
            what,
            self.session.dag_api.patch_dag_without_preload_content,
            dag_id,
            o.DAGPatchBody(is_paused=bool(paused)),
            update_mask=["is_paused"],
        )
        return self._parse(what, _parse_dag, data)

    # -- DAG runs -------------------------------------------------------------

    def list_dag_runs(
        self,
        dag_id: str = "~",
        limit: int = 25,
        order_by: str = "-run_after",
        *,
        state: list[str] | None = None,
    ) -> list[DagRun]:
        """The first ``limit`` runs of ``dag_id`` (``"~"``: of all DAGs), by
        ``order_by``; ``limit`` above 100 is fetched in pages."""
        what = "list DAG runs" if dag_id == "~" else f"list runs of DAG {dag_id!r}"
        api = self.session.dag_run_api

        def fetch(page_limit: int, offset: int) -> Any:
            return self._get(
                what,
                api.get_dag_runs_without_preload_content,
                dag_id,
                limit=page_limit,
                offset=offset,
                order_by=[order_by],
                state=list(state) if state else None,
            )

        return self._parse_many(what, _parse_dag_run, self._pages(what, "dag_runs", fetch, max_items=max(0, limit)))

    def latest_dag_runs(self, dag_ids: Iterable[str] | None = None, *, window: int = PAGE_SIZE) -> dict[str, DagRun]:
        """The latest run (by ``run_after``) of each DAG, for the DAG list.

        Cheapest way found on Airflow 3.3: the public DAG list has no
        last-run fields, so ONE ``GET /api/v2/dags/~/dagRuns?order_by=-run_after
        &limit=100`` covers every DAG that ran recently; only the DAGs of
        ``dag_ids`` absent from that window cost one more
        ``GET /dags/{id}/dagRuns?limit=1`` each.  ``dag_ids=None``: just the
        window.  DAGs that never ran are absent from the result.
        """
        latest: dict[str, DagRun] = {}
        recent = self.list_dag_runs("~", limit=window, order_by="-run_after")
        for run in recent:
            latest.setdefault(run.dag_id, run)
        if dag_ids is None:
            return latest
        wanted = list(dict.fromkeys(dag_ids))
        if len(recent) >= window:  # the window may have cut older runs off
            for dag_id in wanted:
                if dag_id not in latest:
                    runs = self.list_dag_runs(dag_id, limit=1, order_by="-run_after")
                    if runs:
                        latest[dag_id] = runs[0]
        return {d: latest[d] for d in wanted if d in latest}

    def get_dag_run(self, dag_id: str, run_id: str) -> DagRun:
        what = f"read run {run_id!r} of DAG {dag_id!r}"
        data = self._get(what, self.session.dag_run_api.get_dag_run_without_preload_content, dag_id, run_id)
        return self._parse(what, _parse_dag_run, data)

    def trigger_dag_run(
        self,
        dag_id: str,
        *,
        run_id: str | None = None,
        conf: dict[str, Any] | None = None,
        logical_date: datetime | None = None,
        note: str | None = None,
    ) -> DagRun:
        """Create a manual run (never retried here).  A ``run_id`` that exists
        -> :class:`AirflowConflict`; params Airflow rejects ->
        :class:`AirflowBadRequest` with Airflow's message."""
        what = f"trigger DAG {dag_id!r}"
        o = self.session.o
        if logical_date is not None and logical_date.tzinfo is None:
            raise AirflowBadRequest(self.name, f"cannot {what}: logical_date must be timezone-aware")
        try:
            body = o.TriggerDAGRunPostBody(dag_run_id=run_id, conf=conf, logical_date=logical_date, note=note)
        except ValueError as exc:
            raise self.session._bad_arguments(what, exc) from None
        try:
            data = self._write(what, self.session.dag_run_api.trigger_dag_run_without_preload_content, dag_id, body)
        except AirflowConflict as exc:
            if run_id is not None:
                reason = f"cannot {what}: a run with run id {run_id!r} already exists"
            else:
                reason = f"cannot {what}: a run with that logical date already exists"
            raise AirflowConflict(self.name, reason, status=exc.status) from None
        return self._parse(what, _parse_dag_run, data)

    def set_dag_run_state(self, dag_id: str, run_id: str, state: str) -> DagRun:
        what = f"set the state of run {run_id!r} of DAG {dag_id!r}"
        if state not in DAG_RUN_SETTABLE_STATES:
            raise AirflowBadRequest(
                self.name, f"cannot {what}: state must be one of {', '.join(DAG_RUN_SETTABLE_STATES)}"
            )
        o = self.session.o
        data = self._write(
            what,
            self.session.dag_run_api.patch_dag_run_without_preload_content,
            dag_id,
            run_id,
            o.DAGRunPatchBody(state=o.DagRunMutableStates(state)),
            update_mask=["state"],
        )
        return self._parse(what, _parse_dag_run, data)

    # -- task instances -------------------------------------------------------

    def list_task_instances(self, dag_id: str, run_id: str) -> list[TaskInstance]:
        """Every task instance of the run (mapped ones included), all pages."""
        what = f"list tasks of run {run_id!r} of DAG {dag_id!r}"
        api = self.session.task_instance_api

        def fetch(limit: int, offset: int) -> Any:
            return self._get(
                what,
                api.get_task_instances_without_preload_content,
                dag_id,
                run_id,
                limit=limit,
                offset=offset,
                order_by=["id"],
            )

        return self._parse_many(what, _parse_task_instance, self._pages(what, "task_instances", fetch))

    def clear_task_instances(
        self,
        dag_id: str,
        *,
        run_id: str,
        task_ids: list[str] | None = None,
        only_failed: bool = False,
        dry_run: bool = False,
    ) -> list[TaskInstance]:
        """Clear (re-run) tasks of one run; returns the task instances cleared
        (or, with ``dry_run``, that would be).  The run goes back to queued."""
        what = f"clear tasks of run {run_id!r} of DAG {dag_id!r}"
        o = self.session.o
        try:
            body = o.ClearTaskInstancesBody(
                dag_run_id=run_id,
                task_ids=[o.ClearTaskInstancesBodyTaskIdsInner(t) for t in task_ids] if task_ids else None,
                only_failed=only_failed,
                dry_run=dry_run,
            )
        except ValueError as exc:
            raise self.session._bad_arguments(what, exc) from None
        call = self._get if dry_run else self._write
        data = call(
            what, self.session.task_instance_api.post_clear_task_instances_without_preload_content, dag_id, body
        )
        return self._parse(
            what, lambda d: [_parse_task_instance(t) for t in _list(_dict(d, "answer"), "task_instances")], data
        )

    def set_task_instance_state(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        state: str,
        *,
        map_index: int | None = None,
    ) -> list[TaskInstance]:
        """Mark a task instance success/failed/skipped; returns those changed."""
        what = f"set the state of task {task_id!r} in run {run_id!r} of DAG {dag_id!r}"
        if state not in TASK_SETTABLE_STATES:
            raise AirflowBadRequest(self.name, f"cannot {what}: state must be one of {', '.join(TASK_SETTABLE_STATES)}")
        o = self.session.o
        body = o.PatchTaskInstanceBody(new_state=o.TaskInstanceState(state))
        api = self.session.task_instance_api
        if map_index is None or map_index < 0:
            data = self._write(
                what,
                api.patch_task_instance_without_preload_content,
                dag_id,
                run_id,
                task_id,
                body,
                update_mask=["new_state"],
            )
        else:
            data = self._write(
                what,
                api.patch_task_instance_by_map_index_without_preload_content,
                dag_id,
                run_id,
                task_id,
                map_index,
                body,
                update_mask=["new_state"],
            )
        return self._parse(
            what, lambda d: [_parse_task_instance(t) for t in _list(_dict(d, "answer"), "task_instances")], data
        )

    # -- logs ---------------------------------------------------------------

    def get_log(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        try_number: int,
        *,
        map_index: int = -1,
        token: str | None = None,
        read_timeout: float | None = None,
    ) -> LogPage:
        """One JSON page of a task log.  Airflow 3.3 answers the whole log at
        once (no continuation token, 18 MB for 50,000 lines): for big logs
        prefer :meth:`iter_log_lines`.  ``read_timeout`` overrides the
        server's for this call (Airflow reads the whole log file before the
        first byte: seconds for a big one)."""
        what = f"read the log of task {task_id!r} in run {run_id!r}"
        data = self._get(
            what,
            self.session.task_instance_api.get_log_without_preload_content,
            dag_id,
            run_id,
            task_id,
            int(try_number),
            map_index=map_index,
            token=token,
            _headers={"Accept": "application/json"},
            _read_timeout=read_timeout,
        )

        def parse(d: Any) -> LogPage:
            d = _dict(d, "answer")
            return LogPage(
                lines=[parse_log_line(line) for line in _list(d, "content")],
                continuation_token=_ostr(d, "continuation_token"),
            )

        return self._parse(what, parse, data)

    def iter_log_lines(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        try_number: int,
        *,
        map_index: int = -1,
        read_timeout: float | None = None,
    ) -> LogLineStream:
        """Stream a task log (``Accept: application/x-ndjson``) one
        :class:`LogLine` at a time, never holding the whole log.

        The request is made now (so a missing task raises here); the lines are
        read as they are iterated.  Close the stream (or use ``with``) if you
        stop early.  The read timeout (the server's, or ``read_timeout``)
        applies to the wait for the first byte and between chunks, not to the
        whole log; Airflow 3.3 sends the first line only once it has read the
        whole log file.
        """
        what = f"read the log of task {task_id!r} in run {run_id!r}"
        response = self.session.stream(
            what,
            self.session.task_instance_api.get_log_without_preload_content,
            dag_id,
            run_id,
            task_id,
            int(try_number),
            map_index=map_index,
            _headers={"Accept": "application/x-ndjson"},
            _read_timeout=read_timeout,
        )
        return LogLineStream(self.session, what, response)


__all__ = [
    "AirflowClient",
    "AirflowSession",
    "Dag",
    "DagDetails",
    "DagRun",
    "LogLine",
    "LogLineStream",
    "LogPage",
    "TaskInstance",
    "normalize_base_url",
    "parse_log_line",
    "readable_detail",
]
