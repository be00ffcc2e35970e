"""Address scopes: every non-public range refused, IPv4 inside IPv6 judged by the IPv4 part."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.net.addresses import (
    IPAddress,
    Scope,
    ends_in_number,
    is_public_unicast,
    is_unicast_host,
    parse_address,
    read_ipv4,
    scope,
)

PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450:4001::200e"]

NOT_PUBLIC = [
    ("0.0.0.0", Scope.UNSPECIFIED),
    ("0.1.2.3", Scope.UNSPECIFIED),
    ("10.0.0.1", Scope.PRIVATE),
    ("100.64.0.1", Scope.SHARED),
    ("100.100.100.200", Scope.SHARED),  # Alibaba Cloud metadata
    ("100.127.255.254", Scope.SHARED),
    ("127.0.0.1", Scope.LOOPBACK),
    ("127.255.255.254", Scope.LOOPBACK),
    ("169.254.169.254", Scope.LINK_LOCAL),  # AWS/GCP/Azure metadata
    ("172.16.0.1", Scope.PRIVATE),
    ("172.31.255.254", Scope.PRIVATE),
    ("192.0.0.1", Scope.SPECIAL),
    ("192.0.0.9", Scope.SPECIAL),
    ("192.0.2.1", Scope.DOCUMENTATION),
    ("192.88.99.1", Scope.SPECIAL),
    ("192.168.1.1", Scope.PRIVATE),
    ("198.18.0.1", Scope.BENCHMARKING),
    ("198.19.255.254", Scope.BENCHMARKING),
    ("198.51.100.1", Scope.DOCUMENTATION),
    ("203.0.113.1", Scope.DOCUMENTATION),
    ("224.0.0.1", Scope.MULTICAST),
    ("239.255.255.250", Scope.MULTICAST),
    ("240.0.0.1", Scope.RESERVED),
    ("255.255.255.255", Scope.BROADCAST),
    ("::", Scope.UNSPECIFIED),
    ("::1", Scope.LOOPBACK),
    ("fe80::1", Scope.LINK_LOCAL),
    ("fe80::1%eth0", Scope.LINK_LOCAL),
    ("fec0::1", Scope.SITE_LOCAL),
    ("fc00::1", Scope.UNIQUE_LOCAL),
    ("fd12:3456:789a::1", Scope.UNIQUE_LOCAL),
    ("ff02::1", Scope.MULTICAST),
    ("ff05::1:3", Scope.MULTICAST),
    ("2001:db8::1", Scope.DOCUMENTATION),
    ("3fff::1", Scope.DOCUMENTATION),
    ("2001:2::1", Scope.BENCHMARKING),
    ("2001:10::1", Scope.SPECIAL),  # ORCHID
    ("100::1", Scope.SPECIAL),  # discard-only
    ("5f00::1", Scope.SPECIAL),
    ("64:ff9b:1::808:808", Scope.SPECIAL),  # local-use NAT64, even of a public address
    ("1::1", Scope.RESERVED),  # outside 2000::/3
    ("::8.8.8.8", Scope.RESERVED),  # IPv4-compatible is deprecated
]

# IPv6 spellings that carry an internal IPv4 address, and the scope that address has.
EMBEDDED = [
    ("::ffff:127.0.0.1", Scope.LOOPBACK),  # IPv4-mapped
    ("::ffff:7f00:1", Scope.LOOPBACK),
    ("::ffff:10.0.0.1", Scope.PRIVATE),
    ("::ffff:169.254.169.254", Scope.LINK_LOCAL),
    ("::ffff:100.100.100.200", Scope.SHARED),
    ("::ffff:0.0.0.0", Scope.UNSPECIFIED),
    ("::127.0.0.1", Scope.LOOPBACK),  # IPv4-compatible
    ("::10.0.0.1", Scope.PRIVATE),
    ("64:ff9b::127.0.0.1", Scope.LOOPBACK),  # NAT64 well-known prefix
    ("64:ff9b::a9fe:a9fe", Scope.LINK_LOCAL),
    ("64:ff9b::192.168.0.1", Scope.PRIVATE),
    ("2002:7f00:1::1", Scope.LOOPBACK),  # 6to4
    ("2002:a9fe:a9fe::", Scope.LINK_LOCAL),
    ("2002:c0a8:101::1", Scope.PRIVATE),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", Scope.LOOPBACK),  # Teredo, client 127.0.0.1
    ("2001:0:a00:1::1", Scope.PRIVATE),  # Teredo, server 10.0.0.1
]


@pytest.mark.parametrize("text", PUBLIC)
def test_globally_routable_unicast_addresses_are_public(text: str) -> None:
    assert scope(ip_address(text)) is Scope.PUBLIC
    assert is_public_unicast(ip_address(text))


@pytest.mark.parametrize(("text", "expected"), NOT_PUBLIC)
def test_every_special_range_has_its_scope_and_is_not_public(text: str, expected: Scope) -> None:
    assert scope(ip_address(text)) is expected
    assert not is_public_unicast(ip_address(text))


@pytest.mark.parametrize(("text", "expected"), EMBEDDED)
def test_ipv6_forms_of_internal_ipv4_addresses_take_the_ipv4_scope(
    text: str, expected: Scope
) -> None:
    assert scope(ip_address(text)) is expected


@pytest.mark.parametrize("text", ["::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"])
def test_ipv6_forms_of_public_ipv4_addresses_can_be_public(text: str) -> None:
    """A NAT64 network reaches every IPv4-only shop through 64:ff9b::/96."""
    assert scope(ip_address(text)) is Scope.PUBLIC


def test_teredo_is_never_public_even_between_public_addresses() -> None:
    assert scope(ip_address("2001:0:808:808::f7f7:f7f7")) is Scope.SPECIAL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1", True),
        ("127.0.0.1", True),
        ("fe80::1", True),
        ("8.8.8.8", True),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("240.0.0.1", False),
        ("ff02::1", False),
        ("::", False),
    ],
)
def test_only_unicast_hosts_are_ever_admitted_even_privately(text: str, expected: bool) -> None:
    """allow_private_targets reaches private hosts, never 0.0.0.0, multicast or broadcast."""
    assert is_unicast_host(ip_address(text)) is expected


@given(st.ip_addresses())
def test_nothing_python_calls_non_global_is_public(address: IPAddress) -> None:
    """The table only ever narrows ``is_global``; multicast never counts as public."""
    if is_public_unicast(address):
        assert address.is_global and not address.is_multicast


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",
        "0x7f000001",
        "0X7F000001",
        "0177.0.0.1",
        "0177.0.0.01",
        "127.1",
        "127.0.1",
        "0x7f.1",
        "0x7f.0.0.1",
        "0177.0x0.1",
        "127.000.000.001",
        "017700000001",
    ],
)
def test_numeric_spellings_are_read_as_a_resolver_reads_them(host: str) -> None:
    assert read_ipv4(host) == IPv4Address("127.0.0.1")
    assert ends_in_number(host)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("0", "0.0.0.0"),
        ("0x0", "0.0.0.0"),
        ("1.2.3.4", "1.2.3.4"),
        ("167772161", "10.0.0.1"),
        ("0xa9.254.0251.0376", "169.254.169.254"),
        ("100.6579400", "100.100.100.200"),
    ],
)
def test_other_numeric_spellings(host: str, expected: str) -> None:
    assert read_ipv4(host) == IPv4Address(expected)


@pytest.mark.parametrize(
    "host", ["4294967296", "08.0.0.1", "1.2.3.4.5", "0x", "1.2.3.256", "1.2.3.4 x", "shop.example"]
)
def test_what_a_resolver_does_not_read_as_an_address_is_none(host: str) -> None:
    assert read_ipv4(host) is None


@given(st.text(alphabet="0123456789abcdefxX.", max_size=24))
def test_numeric_reading_agrees_with_the_c_library(host: str) -> None:
    try:
        expected: IPv4Address | None = IPv4Address(socket.inet_aton(host))
    except OSError:
        expected = None
    assert read_ipv4(host) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("shop.example", False),
        ("1.2.3.4", True),
        ("a.b.0x1f", True),
        ("a.0x", True),
        ("a.1b", False),
        ("123.example", False),
        ("example.123", True),
    ],
)
def test_a_host_ending_in_a_number_is_taken_for_an_address(host: str, expected: bool) -> None:
    assert ends_in_number(host) is expected


def test_zone_ids_and_non_standard_spellings_are_no_address() -> None:
    assert parse_address("fe80::1%eth0") is None
    assert parse_address("127.1") is None
    assert parse_address("::1") == ip_address("::1")
