"""Airflow servers: register, update credentials, test the connection."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from console.airflow import urls as airflow_urls
from console.extensions import db
from console.models import AirflowServer
from console.models.timeutil import utcnow
from console.security.secrets import encrypt
from console.services.errors import ServiceError

AUTH_KINDS = {"password": "Username and password (token fetched from /auth/token)", "token": "Static API token"}
#: Where and how the stored credential is sent: changing any of these requires the credential again,
#: or an admin could point a server at a listener of theirs and receive the stored password.
CREDENTIAL_TARGET = {
    "base_url": "the base URL",
    "username": "the user name",
    "auth_kind": "the authentication",
    "verify_tls": "TLS verification",
}


class SecretRequired(ServiceError):
    """The credential's destination changed but the credential was not entered again."""


def normalize_base_url(url: str) -> str:
    """``url`` by the Airflow client's one rule set (:func:`console.airflow.urls.normalize_base_url`);
    a refused URL raises :class:`ServiceError` saying why."""
    try:
        return airflow_urls.normalize_base_url(url)
    except ValueError as exc:
        raise ServiceError(str(exc)) from None


def set_secret(server: AirflowServer, secret: str | None) -> None:
    """Store ``secret`` encrypted (an empty value keeps the current one)."""
    if secret:
        server.secret_ciphertext = encrypt(secret)
        server.secret_changed_at = utcnow()


def require_secret_for_new_target(server: AirflowServer, secret: str | None) -> None:
    """Refuse (``SecretRequired``) to send the stored credential to a changed base URL, user name,
    auth kind or TLS setting unless ``secret`` gives it again. Call after the fields were assigned."""
    state: sa.orm.InstanceState[AirflowServer] = sa.inspect(server)
    if secret or not server.secret_ciphertext or state.transient or state.pending:
        return
    changed = [label for field, label in CREDENTIAL_TARGET.items() if state.attrs[field].history.has_changes()]
    if changed:
        raise SecretRequired(
            f"Enter the password/token again: changing {' and '.join(changed)} requires it "
            "(the stored one is only sent where it was entered for)."
        )


def register_server(
    *,
    name: str,
    base_url: str,
    username: str | None = None,
    secret: str | None = None,
    auth_kind: str = "password",
    enabled: bool = True,
) -> AirflowServer:
    """Create the server ``name``, or update its URL and credentials if it exists.

    Changing where an existing credential goes requires ``secret``: see
    :func:`require_secret_for_new_target`.
    """
    if auth_kind not in AUTH_KINDS:
        raise ServiceError(f"Unknown auth kind {auth_kind!r}.")
    server = db.session.scalars(sa.select(AirflowServer).where(AirflowServer.name == name)).first()
    if server is None:
        server = AirflowServer(name=name)
        db.session.add(server)
    server.base_url = normalize_base_url(base_url)
    server.username = username
    server.auth_kind = auth_kind
    server.enabled = enabled
    require_secret_for_new_target(server, secret)
    set_secret(server, secret)
    return server


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    message: str


def check_connection(server: AirflowServer) -> ConnectionReport:
    """Ask the server for its version and component health; never raises."""
    from console.airflow.errors import AirflowError
    from console.airflow.registry import client_for
    from console.security.secrets import SecretUnreadable

    try:
        client = client_for(server)
        version = client.version()
        health = client.health()
    except (AirflowError, SecretUnreadable) as exc:
        return ConnectionReport(False, f"{server.name}: {exc}")
    parts = ", ".join(f"{name} {status}" for name, status in sorted(health.items()))
    unhealthy = [name for name, status in health.items() if status != "healthy"]
    ok = not unhealthy
    return ConnectionReport(ok, f"{server.name}: Airflow {version.get('version', '?')}; {parts}")
