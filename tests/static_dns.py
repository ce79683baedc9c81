"""A static hosts table in place of DNS, so tests that resolve names never query a DNS server.

``install(monkeypatch, table)`` answers the names in ``table`` (changeable
during the test) and lets numeric addresses through (``AI_NUMERICHOST``: the
decimal, hex, octal and short IPv4 spellings are still parsed by the real
``getaddrinfo``); any other name fails as unknown.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

DEFAULT_TABLE: dict[str, list[str]] = {
    "localhost": ["127.0.0.1", "::1"],
    "hooks.example.com": ["93.184.215.14"],  # public; tests never connect to it
}


def install(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Patch ``socket.getaddrinfo``; returns the live table (edit it to change answers)."""
    hosts = {**DEFAULT_TABLE, **(table or {})}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name.lower().rstrip(".") in hosts:
            answers = []
            for address in hosts[name.lower().rstrip(".")]:
                if ipaddress.ip_address(address).version == 6:
                    answers.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, int(port or 0), 0, 0)))
                else:
                    answers.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0))))
            return answers
        return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return hosts
