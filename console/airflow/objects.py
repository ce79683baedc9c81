"""Airflow's Variables, Pools and Connections, and a server's configuration, providers and plugins.

A part of :class:`~console.airflow.client.AirflowClient` (import the client, not this module).
Contract: reads follow every ``limit``/``offset`` page (100 rows at most each); each write sends
exactly one request and is never retried.  Objects come back as plain dicts holding only the
fields the console shows and compares.  Airflow itself redacts sensitive values in its answers
(``"***"``): a variable's value whose key it deems sensitive, a connection's password and the
sensitive keys of its extra.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from console.airflow.payloads import BadPayload, _dict, _int, _obool, _oint, _ostr, _str

if TYPE_CHECKING:
    from console.airflow.session import AirflowSession

#: What Airflow answers in place of a value it will not show.
REDACTED = "***"
#: The fields of each kind of object the console reads and writes.
VARIABLE_FIELDS = ("value", "description")
POOL_FIELDS = ("slots", "description", "include_deferred")
CONNECTION_FIELDS = ("conn_type", "description", "host", "schema", "login", "port", "password", "extra")


def parse_variable(raw: Any) -> dict[str, Any]:
    d = _dict(raw, "variable")
    value = d.get("value")
    if value is not None and not isinstance(value, str):
        raise BadPayload("value")
    return {"key": _str(d, "key"), "value": value, "description": _ostr(d, "description")}


def parse_pool(raw: Any) -> dict[str, Any]:
    d = _dict(raw, "pool")
    return {
        "name": _str(d, "name"),
        "slots": _int(d, "slots"),
        "description": _ostr(d, "description"),
        "include_deferred": bool(_obool(d, "include_deferred")),
        "occupied_slots": _oint(d, "occupied_slots"),
        "running_slots": _oint(d, "running_slots"),
        "queued_slots": _oint(d, "queued_slots"),
        "open_slots": _oint(d, "open_slots"),
    }


def parse_connection(raw: Any) -> dict[str, Any]:
    d = _dict(raw, "connection")
    return {
        "connection_id": _str(d, "connection_id"),
        "conn_type": _str(d, "conn_type"),
        **{k: _ostr(d, k) for k in ("description", "host", "schema", "login", "password", "extra")},
        "port": _oint(d, "port"),
    }


def parse_config(raw: Any) -> list[tuple[str, str, str]]:
    """``[(section, key, value), ...]`` in Airflow's order."""
    rows = []
    for section in _dict(raw, "config").get("sections") or []:
        sd = _dict(section, "sections")
        for option in sd.get("options") or []:
            od = _dict(option, "options")
            value = od.get("value")
            shown = value if isinstance(value, str) else "" if value is None else str(value)
            rows.append((_str(sd, "name"), _str(od, "key"), shown))
    return rows


def parse_provider(raw: Any) -> dict[str, Any]:
    d = _dict(raw, "provider")
    return {
        "package_name": _str(d, "package_name"),
        "version": _ostr(d, "version"),
        "description": _ostr(d, "description"),
    }


def parse_plugin(raw: Any) -> dict[str, Any]:
    d = _dict(raw, "plugin")
    return {"name": _str(d, "name"), "source": _ostr(d, "source") or ""}


class AirflowObjects:
    """Variables, pools, connections, configuration, providers, plugins of one Airflow server."""

    name: str
    session: AirflowSession
    _get: Callable[..., Any]
    _pages: Callable[..., list[Any]]
    _parse_many: Callable[..., list[Any]]

    def _api(self, kind: str) -> Any:
        """The official client's API class ``kind`` ("VariableApi", ...), built once per session."""
        from console.airflow import official

        apis = self.session.__dict__.setdefault("_object_apis", {})
        if kind not in apis:
            apis[kind] = getattr(official, kind)(self.session.api_client)
        return apis[kind]

    def _send(self, what: str, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.session.call(what, operation, *args, idempotent=False, **kwargs)

    def _object_body(self, what: str, model: str, values: dict[str, Any]) -> Any:
        from console.airflow import official

        try:
            return getattr(official, model).model_validate(values)
        except ValueError as exc:
            raise self.session.bad_arguments(what, exc) from None

    def _list(self, what: str, api: str, method: str, key: str, parser: Any, **filters: Any) -> list[Any]:
        operation = getattr(self._api(api), method)

        def fetch(limit: int, offset: int) -> Any:
            return self._get(what, operation, limit=limit, offset=offset, **filters)

        return self._parse_many(what, parser, self._pages(what, key, fetch))

    # -- variables -------------------------------------------------------------------------

    def list_variables(self, search: str | None = None) -> list[dict[str, Any]]:
        """Every variable (all pages), by key; ``search``: a case-insensitive substring of the key."""
        return self._list(
            "list variables",
            "VariableApi",
            "get_variables_without_preload_content",
            "variables",
            parse_variable,
            order_by=["key"],
            variable_key_pattern=search or None,
        )

    def get_variable(self, key: str) -> dict[str, Any]:
        what = f"read variable {key!r}"
        data = self._get(what, self._api("VariableApi").get_variable_without_preload_content, key)
        return self.session.parse(what, parse_variable, data)

    def create_variable(self, key: str, value: str, description: str | None = None) -> dict[str, Any]:
        what = f"create variable {key!r}"
        body = self._object_body(what, "VariableBody", {"key": key, "value": value, "description": description})
        data = self._send(what, self._api("VariableApi").post_variable_without_preload_content, body)
        return self.session.parse(what, parse_variable, data)

    def update_variable(self, key: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the fields named in ``changes`` (``value``, ``description``) and nothing else."""
        what = f"update variable {key!r}"
        body = self._object_body(
            what, "VariableBody", {"key": key, "value": changes.get("value"), **_only(changes, "description")}
        )
        api = self._api("VariableApi")
        data = self._send(what, api.patch_variable_without_preload_content, key, body, update_mask=sorted(changes))
        return self.session.parse(what, parse_variable, data)

    def delete_variable(self, key: str) -> None:
        what = f"delete variable {key!r}"
        self._send(what, self._api("VariableApi").delete_variable_without_preload_content, key)

    # -- pools -------------------------------------------------------------------------------

    def list_pools(self, search: str | None = None) -> list[dict[str, Any]]:
        return self._list(
            "list pools",
            "PoolApi",
            "get_pools_without_preload_content",
            "pools",
            parse_pool,
            order_by=["name"],
            pool_name_pattern=search or None,
        )

    def get_pool(self, name: str) -> dict[str, Any]:
        what = f"read pool {name!r}"
        return self.session.parse(
            what, parse_pool, self._get(what, self._api("PoolApi").get_pool_without_preload_content, name)
        )

    def create_pool(self, name: str, values: dict[str, Any]) -> dict[str, Any]:
        what = f"create pool {name!r}"
        body = self._object_body(what, "PoolBody", {"name": name, **_only(values, *POOL_FIELDS)})
        return self.session.parse(
            what, parse_pool, self._send(what, self._api("PoolApi").post_pool_without_preload_content, body)
        )

    def update_pool(self, name: str, values: dict[str, Any]) -> dict[str, Any]:
        """Set every field of the pool (Airflow 3.3 wants them all in a pool's PATCH body)."""
        what = f"update pool {name!r}"
        body = self._object_body(what, "PoolPatchBody", {"pool": name, **_only(values, *POOL_FIELDS)})
        data = self._send(what, self._api("PoolApi").patch_pool_without_preload_content, name, body)
        return self.session.parse(what, parse_pool, data)

    def delete_pool(self, name: str) -> None:
        what = f"delete pool {name!r}"
        self._send(what, self._api("PoolApi").delete_pool_without_preload_content, name)

    # -- connections -------------------------------------------------------------------------

    def list_connections(self, search: str | None = None) -> list[dict[str, Any]]:
        return self._list(
            "list connections",
            "ConnectionApi",
            "get_connections_without_preload_content",
            "connections",
            parse_connection,
            order_by=["connection_id"],
            connection_id_pattern=search or None,
        )

    def get_connection(self, conn_id: str) -> dict[str, Any]:
        what = f"read connection {conn_id!r}"
        data = self._get(what, self._api("ConnectionApi").get_connection_without_preload_content, conn_id)
        return self.session.parse(what, parse_connection, data)

    def create_connection(self, conn_id: str, values: dict[str, Any]) -> dict[str, Any]:
        what = f"create connection {conn_id!r}"
        body = self._object_body(
            what, "ConnectionBody", {"connection_id": conn_id, **_only(values, *CONNECTION_FIELDS)}
        )
        data = self._send(what, self._api("ConnectionApi").post_connection_without_preload_content, body)
        return self.session.parse(what, parse_connection, data)

    def update_connection(self, conn_id: str, conn_type: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the fields named in ``changes`` and nothing else (Airflow wants ``conn_type`` in every body)."""
        what = f"update connection {conn_id!r}"
        values = {"connection_id": conn_id, "conn_type": conn_type, **_only(changes, *CONNECTION_FIELDS)}
        body = self._object_body(what, "ConnectionBody", values)
        api = self._api("ConnectionApi")
        data = self._send(
            what, api.patch_connection_without_preload_content, conn_id, body, update_mask=sorted(changes)
        )
        return self.session.parse(what, parse_connection, data)

    def delete_connection(self, conn_id: str) -> None:
        what = f"delete connection {conn_id!r}"
        self._send(what, self._api("ConnectionApi").delete_connection_without_preload_content, conn_id)

    # -- configuration, providers, plugins ----------------------------------------------------

    def get_config(self) -> list[tuple[str, str, str]]:
        """The effective configuration ``[(section, key, value)]``; Airflow refuses (403) unless
        ``[api] expose_config`` is on, and hides sensitive values with ``non-sensitive-only``."""
        what = "read the configuration"
        data = self._get(
            what, self._api("ConfigApi").get_config_without_preload_content, _headers={"Accept": "application/json"}
        )
        return self.session.parse(what, parse_config, data)

    def list_providers(self) -> list[dict[str, Any]]:
        return self._list(
            "list providers", "ProviderApi", "get_providers_without_preload_content", "providers", parse_provider
        )

    def list_plugins(self) -> list[dict[str, Any]]:
        return self._list("list plugins", "PluginApi", "get_plugins_without_preload_content", "plugins", parse_plugin)


def _only(values: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in keys}
