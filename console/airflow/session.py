"""The low level of the Airflow client: one :class:`AirflowSession` per server.

Contract: a session owns the base URL, the official ``apache-airflow-client``
(``airflow_client.client``) ``ApiClient``, its API classes and its urllib3
pool, and the bearer token (fetched from ``POST {base}/auth/token``, shared
through :data:`console.airflow.tokens.TOKEN_CACHE`, refreshed once on a 401).
Every request gets a ``(connect, read)`` timeout; only idempotent requests
(GETs and the token request) are retried, with exponential backoff, on
connection errors, timeouts and HTTP 429/502/503/504; every failure leaves as an
:mod:`console.airflow.errors` exception with secrets scrubbed from its message
-- never an ``ApiException`` or a urllib3 error (the words are
:mod:`console.airflow.failures`); an answer that does not fit its parser
raises :class:`~console.airflow.errors.AirflowUnexpectedPayload` (:meth:`AirflowSession.parse`).

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
(:class:`~console.airflow.log_stream.LogLineStream` reads the latter).

The official client (typed in :mod:`console.airflow.official`) is imported
lazily, when the first session is built.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

import urllib3
from urllib3.exceptions import HTTPError

from console.airflow.errors import (
    AirflowAuthError,
    AirflowBadRequest,
    AirflowError,
    AirflowUnavailable,
    AirflowUnexpectedPayload,
)
from console.airflow.failures import bad_arguments_detail, http_failure, shorten, unavailable_reason
from console.airflow.payloads import BadPayload
from console.airflow.tokens import TOKEN_CACHE, TokenCache, fingerprint
from console.airflow.urls import normalize_base_url
from console.metrics import observe_airflow_call

log = logging.getLogger(__name__)

#: Statuses worth retrying a GET on (transient overload / proxy trouble).
RETRY_STATUSES = frozenset({429, 502, 503, 504})

T = TypeVar("T")


def operation_name(operation: Callable[..., Any]) -> str:
    """The API operation a generated method calls (``get_dag``), the metrics' ``endpoint`` label."""
    return getattr(operation, "__name__", "other").removesuffix("_without_preload_content")


def call_outcome(exc: AirflowError) -> str:
    """The metrics' ``outcome`` label of a failed call: ``unavailable``, ``auth_error``, ..."""
    name = type(exc).__name__.removeprefix("Airflow") or "error"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


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

        from console.airflow import official  # lazily: importing the official client takes ~2 s

        config = official.Configuration(host=self.base_url)
        config.verify_ssl = verify_tls
        # urllib3 must not retry on its own: its default would also retry
        # connection errors of a POST.  Retries happen in _execute, GETs only.
        config.retries = False
        self.api_client = official.PathSafeApiClient(config)
        self.api_client.user_agent = "airflow-console"
        self.pool: urllib3.PoolManager = self.api_client.rest_client.pool_manager
        self.dag_api = official.DAGApi(self.api_client)
        self.dag_run_api = official.DagRunApi(self.api_client)
        self.task_instance_api = official.TaskInstanceApi(self.api_client)
        self.version_api = official.VersionApi(self.api_client)
        self.monitor_api = official.MonitorApi(self.api_client)
        self.import_error_api = official.ImportErrorApi(self.api_client)
        self.task_api = official.TaskApi(self.api_client)
        self.dag_source_api = official.DagSourceApi(self.api_client)
        self.xcom_api = official.XComApi(self.api_client)
        self.backfill_api = official.BackfillApi(self.api_client)

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

        endpoint = operation_name(operation)
        _status, resp_headers, body = self._execute(what, send, idempotent=idempotent, endpoint=endpoint)
        return self._decode_json(what, body, resp_headers)

    def stream(self, what: str, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Like :meth:`call` for a GET, but return the open urllib3 response
        (status already checked) for the caller to stream and close."""
        headers = kwargs.pop("_headers", None) or {}
        timeout = self._timeout_for(kwargs.pop("_read_timeout", None))

        def send(auth: dict[str, str]) -> Any:
            return operation(*args, _request_timeout=timeout, _headers={**headers, **auth}, **kwargs)

        return self._execute(what, send, idempotent=True, stream=True, endpoint=operation_name(operation))

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
            _status, headers, raw = self._execute(what, send, idempotent=True, authenticate=False, endpoint="token")
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

    def _execute(self, what: str, send: Send, *, endpoint: str, **how: bool) -> Any:
        """:meth:`_send`, counted and timed in ``console_airflow_calls`` under ``endpoint``."""
        started = time.perf_counter()
        outcome = "error"
        try:
            result = self._send(what, send, **how)
            outcome = "success"
            return result
        except AirflowError as exc:
            outcome = call_outcome(exc)
            raise
        finally:
            observe_airflow_call(self.name, endpoint, outcome, time.perf_counter() - started)

    def _send(
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
        from console.airflow.official import OpenApiException, is_request_side

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
            except (HTTPError, OSError, OpenApiException) as exc:
                if resp is not None:
                    resp.close()
                if is_request_side(exc):
                    raise self.bad_arguments(what, exc) from None
                if idempotent and attempt < self.attempts:
                    log.info("Airflow %s: %s failed (%s), retrying", self.name, what, type(exc).__name__)
                    self._backoff_sleep(attempt)
                    continue
                raise self.unavailable(what, exc, attempt) from None
            except ValueError as exc:  # pydantic ValidationError of the arguments
                raise self.bad_arguments(what, exc) from None

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
        except RecursionError:  # a broken or hostile server; the decoder gives up past ~1,000 levels
            raise AirflowUnexpectedPayload(self.name, f"cannot {what}: the answer is nested too deeply") from None
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

    # -- error mapping (the words are in console.airflow.failures) ---------

    def error(self, cls: type[AirflowError], reason: str, status: int | None = None) -> AirflowError:
        """A ``cls`` error naming this server, with secrets scrubbed from ``reason``."""
        return cls(self.name, self._scrub(reason), status=status)

    def bad_arguments(self, what: str, exc: Exception) -> AirflowError:
        """:class:`AirflowBadRequest` for arguments refused before anything was sent."""
        return self.error(AirflowBadRequest, shorten(f"cannot {what}: invalid arguments ({bad_arguments_detail(exc)})"))

    def unavailable(self, what: str, exc: BaseException, tries: int = 1) -> AirflowError:
        """:class:`AirflowUnavailable` for a connection-level failure after ``tries`` tries."""
        why = unavailable_reason(exc, connect_timeout=self.connect_timeout, read_timeout=self.read_timeout)
        after = f" after {tries} tries" if tries > 1 else ""
        return self.error(AirflowUnavailable, f"cannot {what}: {why}{after}")

    def parse(self, what: str, parser: Callable[[Any], T], raw: Any) -> T:
        """``parser(raw)``; an answer that does not fit raises :class:`AirflowUnexpectedPayload`."""
        try:
            return parser(raw)
        except BadPayload as exc:
            raise self.error(
                AirflowUnexpectedPayload, f"cannot {what}: unexpected answer ({exc.field} missing or invalid)"
            ) from None

    def _http_error(self, what: str, status: int, body: bytes, headers: Any) -> AirflowError:
        cls, why = http_failure(status, body, headers, static_token=bool(self._static_token), username=self.username)
        return self.error(cls, f"cannot {what}: {why}", status)
