"""The one rule set for an Airflow server's base URL."""

from __future__ import annotations

from urllib.parse import urlsplit

#: Suffixes people paste from the API docs; the console adds ``/api/v2`` itself.
_API_SUFFIXES = ("/api/v2", "/api/v1", "/api")


def normalize_base_url(base_url: str) -> str:
    """``http(s)://host[:port][/prefix]``, without a trailing slash or an API suffix.

    ``http://host:8080/`` and ``http://host:8080/api/v2`` both give
    ``http://host:8080``; a path prefix (Airflow behind a proxy) is kept.
    Anything that is not an http(s) URL with a host (and a numeric port, if
    any), or that has a query string, a fragment or a credential, raises ``ValueError``
    with a sentence a person can act on.
    """
    url = (base_url or "").strip().rstrip("/")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 -- parsing the port is the check
    except ValueError:
        valid_port = False
    else:
        valid_port = True
    if parts.scheme not in ("http", "https") or not parts.hostname or not valid_port:
        raise ValueError(f"Base URL must look like http://host:port, got {url!r}.")
    if parts.query or parts.fragment:
        raise ValueError("Base URL must not have a query string or fragment.")
    if parts.username is not None or parts.password is not None:
        # A credential in the URL would be stored, shown and logged in plain text.
        raise ValueError("Base URL must not contain a user name or password: use the credential fields.")
    for suffix in _API_SUFFIXES:
        if parts.path.endswith(suffix):
            return url[: -len(suffix)].rstrip("/")
    return url
