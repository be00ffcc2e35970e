"""The target guard: every address a name resolves to must be admitted, by the merchant policy."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from adapter.net.addresses import IPAddress
from adapter.net.errors import InvalidUrl, UnresolvedHost, UnsafeTarget
from adapter.net.guard import (
    PRIVATE_ALLOWED,
    PUBLIC_ONLY,
    TargetPolicy,
    check_host,
    check_without_lookup,
    is_loopback_name,
    target_policy,
)
from tests.net.fakes import FakeResolver

# What an attacker's DNS (or a careless zone) answers for names that pass an allowlist.
RESOLVER = FakeResolver(
    {
        "shop.example": ["93.184.215.14"],
        "dual.shop.example": ["93.184.215.14", "2606:2800:220:1::1"],
        "127.0.0.1.nip.io": ["127.0.0.1"],
        "10.0.0.1.nip.io": ["10.0.0.1"],
        "169.254.169.254.nip.io": ["169.254.169.254"],
        "metadata.google.internal": ["169.254.169.254"],
        "metadata.shop.example": ["100.100.100.200"],
        "old.shop.example": ["10.20.30.40"],  # dangling subdomain under *.shop.example
        "mixed.shop.example": ["93.184.215.14", "127.0.0.1"],
        "mapped.shop.example": ["::ffff:127.0.0.1"],
        "nat64.shop.example": ["64:ff9b::a9fe:a9fe"],
        "sixtofour.shop.example": ["2002:c0a8:101::1"],
        "ula.shop.example": ["fd00::1"],
        "linklocal.shop.example": ["fe80::1"],
        "multicast.shop.example": ["224.0.0.251"],
        "zero.shop.example": ["0.0.0.0"],
        "cgnat.shop.example": ["100.64.0.1"],
        "docs.shop.example": ["192.0.2.10"],
        "bench.shop.example": ["198.18.0.1"],
        "empty.shop.example": [],
    }
)


async def _check(host: str, policy: TargetPolicy = PUBLIC_ONLY) -> tuple[IPAddress, ...]:
    return await check_host(host, 443, RESOLVER, policy)


async def test_a_public_name_gives_its_checked_addresses() -> None:
    assert await _check("shop.example") == (ip_address("93.184.215.14"),)
    assert len(await _check("dual.shop.example")) == 2


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1.nip.io",
        "10.0.0.1.nip.io",
        "169.254.169.254.nip.io",
        "metadata.google.internal",
        "metadata.shop.example",
        "old.shop.example",
        "mapped.shop.example",
        "nat64.shop.example",
        "sixtofour.shop.example",
        "ula.shop.example",
        "linklocal.shop.example",
        "multicast.shop.example",
        "zero.shop.example",
        "cgnat.shop.example",
        "docs.shop.example",
        "bench.shop.example",
    ],
)
async def test_names_that_resolve_to_internal_addresses_are_refused(host: str) -> None:
    with pytest.raises(UnsafeTarget, match="non-public address"):
        await _check(host)


async def test_one_internal_answer_among_public_ones_is_enough_to_refuse() -> None:
    """The connection could go to any answer: every one must be public."""
    with pytest.raises(UnsafeTarget, match="loopback"):
        await _check("mixed.shop.example")


@pytest.mark.parametrize("host", ["gone.shop.example", "empty.shop.example"])
async def test_a_name_that_does_not_resolve_is_refused(host: str) -> None:
    with pytest.raises(UnresolvedHost):
        await _check(host)


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST",
        "localhost.",
        "a.localhost",
        "shop.localhost.",
        "ip6-localhost",
        "ip6-loopback",
        "localhost.localdomain",
        "localhost6",
        "localhost4.localdomain4",
    ],
)
async def test_names_of_this_machine_are_refused_before_any_lookup(host: str) -> None:
    resolver = FakeResolver({host.lower().removesuffix("."): ["93.184.215.14"]})
    with pytest.raises(UnsafeTarget, match="names this machine"):
        await check_host(host, 443, resolver, PUBLIC_ONLY)
    assert not resolver.lookups


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.0.0.1",
        "169.254.169.254",
        "100.100.100.200",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:7f00:1",
        "64:ff9b::7f00:1",
        "2002:a9fe:a9fe::",
        "fd00::1",
    ],
)
async def test_internal_ip_literals_are_read_not_resolved_and_refused(host: str) -> None:
    resolver = FakeResolver({})
    with pytest.raises(UnsafeTarget, match="non-public"):
        await check_host(host, 443, resolver, PUBLIC_ONLY)
    assert not resolver.lookups


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0", "10.1", "[::1]", "fe80::1%1"]
)
async def test_odd_address_spellings_are_refused_without_a_lookup(host: str) -> None:
    resolver = FakeResolver({})
    with pytest.raises(InvalidUrl):
        await check_host(host, 443, resolver, PUBLIC_ONLY)
    assert not resolver.lookups


@pytest.mark.parametrize("host", ["93.184.215.14", "2606:4700::1111"])
async def test_a_public_ip_literal_is_admitted_without_a_lookup(host: str) -> None:
    resolver = FakeResolver({})
    assert await check_host(host, 443, resolver, PUBLIC_ONLY) == (ip_address(host),)
    assert not resolver.lookups


@pytest.mark.parametrize(
    "host", ["127.0.0.1.nip.io", "old.shop.example", "ula.shop.example", "mixed.shop.example"]
)
async def test_private_targets_reach_private_hosts_when_the_merchant_allows_them(
    host: str,
) -> None:
    assert await _check(host, PRIVATE_ALLOWED)


async def test_private_targets_allow_localhost_by_name() -> None:
    resolver = FakeResolver({"localhost": ["127.0.0.1"]})
    assert await check_host("localhost", 8080, resolver, PRIVATE_ALLOWED)


@pytest.mark.parametrize("host", ["multicast.shop.example", "zero.shop.example"])
async def test_private_targets_never_reach_multicast_or_unspecified(host: str) -> None:
    with pytest.raises(UnsafeTarget):
        await _check(host, PRIVATE_ALLOWED)


def test_the_merchant_flag_chooses_the_policy() -> None:
    assert target_policy(False) is PUBLIC_ONLY
    assert target_policy(True) is PRIVATE_ALLOWED


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("x.localhost", True),
        ("localhost.shop.example", False),
        ("notlocalhost", False),
        ("ip6-localhost", True),
    ],
)
def test_loopback_names(host: str, expected: bool) -> None:
    assert is_loopback_name(host) is expected


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "x.localhost", "10.0.0.1"])
def test_browser_urls_are_checked_without_a_lookup(host: str) -> None:
    with pytest.raises(UnsafeTarget):
        check_without_lookup(host, PUBLIC_ONLY)


def test_a_name_passes_the_check_without_a_lookup_unresolved() -> None:
    host = check_without_lookup("127.0.0.1.nip.io", PUBLIC_ONLY)
    assert (host.name, host.address) == ("127.0.0.1.nip.io", None)
    assert check_without_lookup("127.0.0.1", PRIVATE_ALLOWED).address == ip_address("127.0.0.1")
