"""``/metrics`` after real calls to the Airflow sandbox: calls, outcomes, latency, cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from console.extensions import db
from tests.conftest import Auth

pytestmark = pytest.mark.integration


def scrape(client: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())


def test_airflow_calls_and_cache_lookups_are_counted(
    app_factory: Callable[..., Flask], sandbox_server: int, airflow_sandbox: Any
) -> None:
    app = app_factory(CACHE_TYPE="SimpleCache")
    client = Auth(app, app.test_client())("admin")
    before = scrape(client)
    get_dags = labels(server="sandbox", endpoint="get_dags", outcome="success")
    timed = labels(server="sandbox", endpoint="get_dags")
    miss, hit = labels(kind="dag_list", result="miss"), labels(kind="dag_list", result="hit")

    assert client.get("/admin/dags/").status_code == 200
    first = scrape(client)
    calls = first.get(("console_airflow_calls_total", get_dags), 0) - before.get(
        ("console_airflow_calls_total", get_dags), 0
    )
    assert calls >= 1
    assert (
        first[("console_airflow_call_duration_seconds_count", timed)]
        - before.get(("console_airflow_call_duration_seconds_count", timed), 0)
        == calls
    )
    assert first[("console_airflow_call_duration_seconds_sum", timed)] > before.get(
        ("console_airflow_call_duration_seconds_sum", timed), 0
    )
    assert first[("console_cache_lookups_total", miss)] > before.get(("console_cache_lookups_total", miss), 0)

    assert client.get("/admin/dags/").status_code == 200  # the same page again, from the cache
    second = scrape(client)
    assert second[("console_airflow_calls_total", get_dags)] == first[("console_airflow_calls_total", get_dags)]
    assert second[("console_cache_lookups_total", hit)] > first.get(("console_cache_lookups_total", hit), 0)
    endpoint = labels(endpoint="dags.index", method="GET", status="200")
    assert (
        second[("console_http_requests_total", endpoint)] - before.get(("console_http_requests_total", endpoint), 0)
        == 2
    )


def test_a_server_that_does_not_answer_counts_as_unavailable(app_factory: Callable[..., Flask]) -> None:
    """No fake Airflow: a closed port on this machine, which a real server cannot be made into."""
    from console.services import servers

    app = app_factory(AIRFLOW_RETRY_ATTEMPTS=1)
    with app.app_context():
        servers.register_server(name="nowhere", base_url="http://127.0.0.1:9", username="u", secret="p")
        db.session.commit()
    client = Auth(app, app.test_client())("admin")
    key = ("console_airflow_calls_total", labels(server="nowhere", endpoint="token", outcome="unavailable"))
    before = scrape(client).get(key, 0)
    assert client.get("/admin/dags/").status_code == 200
    assert scrape(client)[key] >= before + 1
