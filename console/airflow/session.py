"""The low level of the Airflow client: one :class:`AirflowSession` per server.

Contract: a session owns the base URL, the official ``apache-airflow-client``
(``airflow_client.client``) ``ApiClient``, its API classes and its urllib3
pool, and the bearer token (fetched from ``POST {base}/auth/token``, shared
through :data:`console.airflow.tokens.TOKEN_CACHE`, refreshed once on a 401).
Every request gets a ``(connect, read)`` timeout; only idempotent requests
(GETs and the token request) are retried, with exponential backoff, on
connection errors, timeouts and HTTP 429/502/503/504; every failure leaves as an
:mod:`console.airflow.errors` exception with secrets scrubbed from its message
-- never an ``ApiException`` or a urllib3 error.

How the official client is used: it builds every request (paths under
``/api/v2``, query and body serialisation, body models) and owns the urllib3
pool.  Every call goes through the generated ``*_without_preload_content``
variant, which returns the raw ``urllib3`` response; the session checks the
status and decodes the JSON itself, and :mod:`console.airflow.payloads` turns
it into dataclasses.  The generated pydantic response models are deliberately
not used: they reject whole pages for one unknown enum value (a new run state
in a newer Airflow), validating a 50,000-line log through the ``Content``
anyOf model costs seconds, and the app wants dataclasses anyway.  The two
endpoints the client does not cover (the token, ndjson streaming of logs) use
the same urllib3 pool, timeouts, token and error mapping
(:class:`LogLineStream` reads the latter).

The official client is imported lazily, on the first session built.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
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
from console.airflow.ids import path_segment
from console.airflow.payloads import LogLine, _Bad, _shorten, parse_log_line, readable_detail
from console.airflow.tokens import TOKEN_CACHE, TokenCache, fingerprint

log = logging.getLogger(__name__)

#: Statuses worth retrying a GET on (transient overload / proxy trouble).
RETRY_STATUSES = frozenset({429, 502, 503, 504})

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
                ApiClient=_path_safe(ApiClient),
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


def _path_safe(api_client: type) -> type:
    """``api_client`` with every path parameter encoded by :func:`path_segment`.

    The generated client quotes path parameters with ``safe=""`` but leaves ``.`` as it is, and
    urllib3 then resolves a ``..`` segment: ``get_dag_details("..")`` asked for
    ``/api/v2/details``.  Substituting the parameters here, before the generated code sees
    them, closes that for every operation at once.
    """

    class PathSafeApiClient(api_client):  # type: ignore[misc,valid-type]
        def param_serialize(self, method: str, resource_path: str, path_params: Any = None, *a: Any, **kw: Any) -> Any:
            for name, value in (path_params or {}).items():
                resource_path = resource_path.replace("{" + name + "}", path_segment(value))
            return super().param_serialize(method, resource_path, None, *a, **kw)

    return PathSafeApiClient


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
        elif type(exc) is ValueError:  # raised by our own checks (an empty path segment), not pydantic
            detail = str(exc)
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
# Streamed logs
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
