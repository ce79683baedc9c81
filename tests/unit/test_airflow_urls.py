"""The one rule set for a server's base URL, used by the server form and the client alike."""

from __future__ import annotations

import pytest

from console.airflow.client import AirflowClient
from console.airflow.errors import AirflowError
from console.airflow.urls import normalize_base_url
from console.services import servers
from console.services.errors import ServiceError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://host:8080", "http://host:8080"),
        ("  https://host:8080/  ", "https://host:8080"),
        ("http://host:8080/api/v2", "http://host:8080"),
        ("http://host:8080/api/v2/", "http://host:8080"),
        ("http://host:8080/api/v1", "http://host:8080"),
        ("http://host:8080/api", "http://host:8080"),
        ("http://proxy/airflow/api/v2", "http://proxy/airflow"),
        ("http://proxy/airflow", "http://proxy/airflow"),
        ("http://api", "http://api"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
    ],
)
def test_base_url_is_normalized(given: str, expected: str) -> None:
    assert normalize_base_url(given) == expected


@pytest.mark.parametrize(
    "given",
    ["", "host:8080", "ftp://host", "http://", "http:///path", "http://host:port", "http://host:99999", "//host"],
)
def test_base_url_that_is_not_http_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="Base URL must look like http://host:port"):
        normalize_base_url(given)


@pytest.mark.parametrize("given", ["http://host:8080/?x=1", "http://host:8080/#top"])
def test_base_url_with_query_or_fragment_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="must not have a query string or fragment"):
        normalize_base_url(given)


@pytest.mark.parametrize(
    "given", ["http://admin:s3cret@host:8080", "https://admin@host", "http://:s3cret@host", "http://a%40b:c@host/x"]
)
def test_base_url_with_a_credential_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="must not contain a user name or password"):
        normalize_base_url(given)


def test_server_form_and_client_apply_the_same_rules() -> None:
    assert servers.normalize_base_url("http://host:8080/api/v1/") == "http://host:8080"
    with pytest.raises(ServiceError, match="query string"):
        servers.normalize_base_url("http://host:8080?x=1")
    with pytest.raises(AirflowError, match="misconfigured: Base URL must not have a query string"):
        AirflowClient("http://host:8080?x=1", static_token="t")
