"""Every Prometheus metric the console's processes record, defined once.

The web workers record into these; ``/metrics`` (:mod:`console.observability.endpoint`)
exposes them with the numbers read from the database at scrape time
(:mod:`console.observability.collectors`): what the scheduler and the job worker do (fire
delay, retries, leader, heartbeats, jobs) is read from their rows there, so it does not
matter which process or host they run on. Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR``
makes prometheus-client keep each worker's values in files there (it reads the variable
when it is first imported, and the directory must exist), and a scrape adds them up.

Labels are bounded: endpoints are Flask endpoint names (or ``none`` for 404s), Airflow
calls are named by the API operation (never by a DAG or run id), cache lookups by kind.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

#: Request latency buckets (seconds): a page is expected well under a second.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Airflow call latency buckets (seconds): up to the log reads' 60 s timeout.
AIRFLOW_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "console_http_requests",
    "Requests answered, by Flask endpoint, method and status code.",
    ["endpoint", "method", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "console_http_request_duration_seconds",
    "Time to answer a request, by Flask endpoint.",
    ["endpoint"],
    buckets=REQUEST_BUCKETS,
)
AIRFLOW_CALLS = Counter(
    "console_airflow_calls",
    "Calls to Airflow's API (retries included), by server, API operation and outcome.",
    ["server", "endpoint", "outcome"],
)
AIRFLOW_CALL_SECONDS = Histogram(
    "console_airflow_call_duration_seconds",
    "Time of one call to Airflow's API, retries and backoff included, by server and API operation.",
    ["server", "endpoint"],
    buckets=AIRFLOW_BUCKETS,
)
CACHE_LOOKUPS = Counter(
    "console_cache_lookups",
    "Read-cache lookups of Airflow answers, by kind and result (hit or miss).",
    ["kind", "result"],
)
SIGN_IN_FAILURES = Counter(
    "console_sign_in_failures",
    "Refused sign-in attempts, by reason (bad-credentials or throttled).",
    ["reason"],
)

#: Every metric name /metrics can show (the dashboard test checks its queries against it).
RECORDED: tuple[Counter | Histogram, ...] = (HTTP_REQUESTS, HTTP_REQUEST_SECONDS, AIRFLOW_CALLS, AIRFLOW_CALL_SECONDS)
RECORDED += (CACHE_LOOKUPS, SIGN_IN_FAILURES)


def observe_airflow_call(server: str, endpoint: str, outcome: str, seconds: float) -> None:
    """Count one call to Airflow (``outcome``: ``success`` or the failure's kind) and its time."""
    AIRFLOW_CALLS.labels(server, endpoint, outcome).inc()
    AIRFLOW_CALL_SECONDS.labels(server, endpoint).observe(seconds)


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(endpoint, method, str(status)).inc()
    HTTP_REQUEST_SECONDS.labels(endpoint).observe(seconds)
