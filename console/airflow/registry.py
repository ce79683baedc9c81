"""One ``AirflowClient`` per enabled server, built from its row and kept in ``app.extensions``."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import Flask, current_app

from console.extensions import db
from console.models import AirflowServer
from console.security.secrets import decrypt

if TYPE_CHECKING:
    from console.airflow.client import AirflowClient


class ClientRegistry:
    """Clients keyed by server id, rebuilt when the row's ``updated_at`` changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[int, tuple[object, AirflowClient]] = {}

    def client_for(self, server: AirflowServer) -> AirflowClient:
        stamp = (server.updated_at, server.secret_changed_at)
        with self._lock:
            cached = self._clients.get(server.id)
            if cached and cached[0] == stamp:
                return cached[1]
        from console.airflow.client import AirflowClient

        secret = decrypt(server.secret_ciphertext) if server.secret_ciphertext else None
        client = AirflowClient(
            server.base_url,
            username=server.username if server.auth_kind == "password" else None,
            password=secret if server.auth_kind == "password" else None,
            static_token=secret if server.auth_kind == "token" else None,
            verify_tls=server.verify_tls,
            connect_timeout=server.connect_timeout,
            read_timeout=server.read_timeout,
            name=server.name,
            attempts=current_app.config["AIRFLOW_RETRY_ATTEMPTS"],
            backoff=current_app.config["AIRFLOW_RETRY_BACKOFF_SECONDS"],
        )
        with self._lock:
            self._clients[server.id] = (stamp, client)
        return client


def registry() -> ClientRegistry:
    return current_app.extensions["airflow"]  # type: ignore[no-any-return]


def enabled_servers() -> list[AirflowServer]:
    return list(
        db.session.scalars(sa.select(AirflowServer).where(AirflowServer.enabled.is_(True)).order_by(AirflowServer.name))
    )


def client_for(server: AirflowServer) -> AirflowClient:
    return registry().client_for(server)


def init_app(app: Flask) -> None:
    app.extensions["airflow"] = ClientRegistry()
