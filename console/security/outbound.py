"""Outbound HTTP to URLs that people type in (alert webhooks), without reaching internal hosts.

:func:`check_url` refuses a URL unless it is plain ``http(s)://host[:port]/...``
and *every* address its host resolves to is a public one: loopback, private,
link-local (cloud metadata at 169.254.169.254), CGNAT, multicast, reserved
and unspecified addresses are refused, also inside IPv4-mapped, 6to4 and
Teredo IPv6 addresses and whatever spelling the host uses (``2130706433``,
``0x7f000001``, ``0177.0.0.1``, ``127.1``, a name that resolves there):
``socket.getaddrinfo`` normalises them all before the check.
``WEBHOOK_ALLOWED_HOSTS`` (host names or CIDRs) lets an admin allow internal
destinations.

:func:`post_json` checks the URL again at send time and connects to the
address it checked (the host name only goes into the Host header and the TLS
server name), so a DNS answer that changes between check and connect cannot
redirect the post; redirects are never followed. Errors never repeat the URL,
which may carry a token.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_EXTRA_FORBIDDEN = (
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT (not "private" to Python)
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64 to any IPv4 address
    ipaddress.ip_network("64:ff9b:1::/48"),
)


MAX_WEBHOOK_LENGTH = 500


class OutboundRefused(ValueError):
    """The URL may not be contacted; the message says why without repeating the URL."""


@dataclass(frozen=True)
class Destination:
    """A checked URL: where to connect (``address``) and what to ask for."""

    scheme: str
    host: str
    port: int
    target: str
    address: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def masked(url: str) -> str:
    """``scheme://host/…``: enough to recognise a URL, without its path, port or token."""
    try:
        parts = urlsplit((url or "").strip())
        host = parts.hostname or ""
    except ValueError:
        return "…"
    if not parts.scheme or not host:
        return "…"
    return f"{parts.scheme}://{f'[{host}]' if ':' in host else host}/…"


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is internal (e.g. "loopback"), or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return forbidden_reason(embedded) or "an IPv4 address inside IPv6"
    for reason, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local (cloud metadata)", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("carrier-grade NAT", any(ip in net for net in _EXTRA_FORBIDDEN if net.version == ip.version)),
        ("not globally routable", not ip.is_global),
    ):
        if flag:
            return reason
    return None


def _allowed(host: str, ip: IPAddress, allowed_hosts: Iterable[str]) -> bool:
    for entry in allowed_hosts:
        entry = entry.strip().lower()
        if entry == host.lower():
            return True
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundRefused(f"the host {host!r} cannot be resolved ({exc})") from None
    addresses: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise OutboundRefused(f"the host {host!r} has no address")
    return addresses


def check_url(url: str, *, allowed_hosts: Iterable[str] = ()) -> Destination:
    """The checked destination of ``url``; raise :class:`OutboundRefused` if it may not be contacted."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise OutboundRefused("the URL is not valid") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused("the URL must start with http:// or https:// and name a host")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise OutboundRefused("the URL must not contain a user name or password before the host")
    if any(ch in url for ch in "\\\r\n\t "):
        raise OutboundRefused("the URL must not contain spaces or backslashes")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    allowed_hosts = list(allowed_hosts)
    addresses = _resolve(host, port)
    for ip in addresses:
        reason = forbidden_reason(ip)
        if reason and not _allowed(host, ip, allowed_hosts):
            raise OutboundRefused(
                f"the host {host!r} is an internal address ({reason}: {ip}); "
                "an admin can allow it with WEBHOOK_ALLOWED_HOSTS"
            )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(parts.scheme, host, port, target, str(addresses[0]))


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked ``address``; ``host`` only names the server (Host header)."""

    def __init__(self, dest: Destination, timeout: float) -> None:
        super().__init__(dest.host, dest.port, timeout=timeout)
        self.address = dest.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked ``address``, verifying the certificate against ``host`` (also the SNI name)."""

    def __init__(self, dest: Destination, timeout: float) -> None:
        super().__init__(dest.host, dest.port, timeout=timeout, context=ssl.create_default_context())
        self.address = dest.address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def check_webhook_url(url: str | None, *, allowed_hosts: Iterable[str] = ()) -> str:
    """``url`` if it is an http(s) URL to a host that may be contacted, "" for none; else
    :class:`OutboundRefused` with a message for the person who typed it."""
    url = (url or "").strip()
    if not url:
        return ""
    if len(url) > MAX_WEBHOOK_LENGTH:
        raise OutboundRefused(f"The webhook URL is longer than {MAX_WEBHOOK_LENGTH} characters.")
    if not url.lower().startswith(("http://", "https://")):
        raise OutboundRefused("The webhook must be an http:// or https:// URL.")
    try:
        check_url(url, allowed_hosts=allowed_hosts)
    except OutboundRefused as exc:
        raise OutboundRefused(f"The webhook is refused: {exc}.") from None
    return url


def post_json(url: str, body: bytes, *, timeout: float, allowed_hosts: Iterable[str] = ()) -> Answer:
    """POST ``body`` to ``url`` after :func:`check_url`, to the checked address, following no redirect.

    Raises :class:`OutboundRefused` before any connection when the URL is
    refused, and ``OSError`` with a message free of the URL when the post
    fails. Plain ``http.client``: it follows no redirect and logs nothing
    (urllib3 logs the request path, and with it the token, at DEBUG level).
    """
    dest = check_url(url, allowed_hosts=allowed_hosts)
    kind = _PinnedHTTPSConnection if dest.scheme == "https" else _PinnedHTTPConnection
    conn = kind(dest, timeout)
    headers = {"Content-Type": "application/json", "User-Agent": "airflow-console"}
    try:
        conn.request("POST", dest.target, body=body, headers=headers)
        response = conn.getresponse()
        response.read(64 * 1024)
        return Answer(response.status, response.reason or "")
    except TimeoutError:
        raise OSError("the webhook timed out") from None
    except ssl.CertificateError:
        raise OSError(f"the TLS certificate of {dest.host_header} does not match") from None
    except ssl.SSLError as exc:
        raise OSError(f"TLS with {dest.host_header} failed: {exc.reason or type(exc).__name__}") from None
    except OSError as exc:
        raise OSError(f"could not connect to {dest.host_header}: {exc.strerror or type(exc).__name__}") from None
    except http.client.HTTPException as exc:
        raise OSError(f"the webhook at {dest.host_header} answered badly: {type(exc).__name__}") from None
    finally:
        conn.close()
