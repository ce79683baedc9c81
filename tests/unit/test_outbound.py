"""The outbound-URL checker: internal destinations refused in every spelling, before any connection."""

from __future__ import annotations

import pytest

from console.security import outbound
from tests import static_dns

NAMES = {
    "metadata.google.internal": ["169.254.169.254"],
    "rebind.example.net": ["93.184.215.14", "127.0.0.1"],  # one internal answer is enough to refuse
    "intranet.example.net": ["10.1.2.3"],
    "v6.example.net": ["fd00:ec2::254"],
    "cgnat.example.net": ["100.64.0.9"],
}

INTERNAL_URLS = [
    "http://127.0.0.1/hook",
    "http://127.8.9.10:8080/hook",
    "http://2130706433/hook",  # decimal
    "http://0x7f000001/hook",  # hex
    "http://0177.0.0.1/hook",  # octal
    "http://127.1/hook",  # short
    "http://0/hook",
    "http://0.0.0.0/hook",
    "http://localhost/hook",
    "http://LOCALHOST./hook",
    "http://[::1]/hook",
    "http://[::]/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped IPv6
    "http://[::ffff:169.254.169.254]/hook",
    "http://[2002:7f00:1::]/hook",  # 6to4 around 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 around 169.254.169.254
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fd00:ec2::254]/latest/meta-data/",  # AWS metadata over IPv6
    "http://[fe80::1]/hook",
    "http://10.0.0.1/hook",
    "http://172.16.5.4/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",  # carrier-grade NAT
    "http://224.0.0.1/hook",  # multicast
    "http://240.0.0.1/hook",  # reserved
    "http://255.255.255.255/hook",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://rebind.example.net/hook",
    "https://intranet.example.net/hook",
    "https://v6.example.net/hook",
    "https://cgnat.example.net/hook",
]

MALFORMED_URLS = [
    "ftp://93.184.215.14/hook",
    "file:///etc/passwd",
    "gopher://93.184.215.14/",
    "http:///hook",
    "http://user:pw@93.184.215.14/hook",
    "http://93.184.215.14@127.0.0.1/hook",  # userinfo trick: the host is 127.0.0.1
    "http://93.184.215.14:99999/hook",
    "http://93.184.215.14\\@127.0.0.1/hook",
    "http://no-such-host.invalid/hook",
]


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    static_dns.install(monkeypatch, NAMES)


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_internal_destinations_are_refused_in_every_spelling(url: str) -> None:
    with pytest.raises(outbound.OutboundRefused, match="internal address"):
        outbound.check_url(url)


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_other_schemes_userinfo_and_unresolvable_hosts_are_refused(url: str) -> None:
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_url(url)


def test_a_public_host_is_accepted_and_pinned_to_its_checked_address() -> None:
    dest = outbound.check_url("https://hooks.example.com/services/T0/B0?x=1")
    assert dest == outbound.Destination("https", "hooks.example.com", 443, "/services/T0/B0?x=1", "93.184.215.14")
    assert dest.host_header == "hooks.example.com"


@pytest.mark.parametrize(
    ("allowed", "url"),
    [
        (["127.0.0.1"], "http://127.0.0.1:8080/hook"),
        (["localhost"], "http://localhost/hook"),
        (["10.0.0.0/8"], "https://intranet.example.net/hook"),
        (["intranet.example.net"], "https://intranet.example.net/hook"),
    ],
)
def test_the_admin_allow_list_lets_internal_hosts_through(allowed: list[str], url: str) -> None:
    assert outbound.check_url(url, allowed_hosts=allowed).address


def test_the_allow_list_covers_only_what_it_names() -> None:
    with pytest.raises(outbound.OutboundRefused, match=r"169\.254\.169\.254"):
        outbound.check_url("http://169.254.169.254/", allowed_hosts=["127.0.0.1", "10.0.0.0/8"])


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example.com/services/T0/B0/secret-token", "https://hooks.example.com/…"),
        ("http://user:pw@hooks.example.com:8443/x?token=1", "http://hooks.example.com/…"),
        ("http://[::1]:9/x", "http://[::1]/…"),
        ("not a url", "…"),
    ],
)
def test_masked_keeps_only_scheme_and_host(url: str, shown: str) -> None:
    assert outbound.masked(url) == shown
