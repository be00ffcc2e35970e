"""Which IP addresses are globally routable unicast, and how resolvers read numeric hosts.

The ranges are listed here (IANA's special-purpose registries, RFC 6890 and successors) instead
of relying on ``ipaddress.is_global`` alone, because what that property says changes between
Python patch releases (3.11.7 calls ``224.0.0.1``, ``fec0::1`` and ``::ffff:127.0.0.1`` global).
``is_global`` is still consulted last, so a range Python learns about is never admitted here.

IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) are judged by
the IPv4 address inside them first: ``::ffff:127.0.0.1`` and ``64:ff9b::a00:1`` lead to the
same hosts as ``127.0.0.1`` and ``10.0.0.1``.
"""

from __future__ import annotations

import functools
import re
import socket
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

IPAddress = IPv4Address | IPv6Address


class Scope(StrEnum):
    """Where an address leads; only PUBLIC is a target without ``allow_private_targets``."""

    PUBLIC = "public"
    LOOPBACK = "loopback"
    PRIVATE = "private"
    SHARED = "shared"  # carrier-grade NAT, 100.64.0.0/10; cloud metadata lives here too
    LINK_LOCAL = "link-local"
    UNIQUE_LOCAL = "unique-local"
    SITE_LOCAL = "site-local"
    DOCUMENTATION = "documentation"
    BENCHMARKING = "benchmarking"
    SPECIAL = "special-purpose"
    UNSPECIFIED = "unspecified"
    MULTICAST = "multicast"
    BROADCAST = "broadcast"
    RESERVED = "reserved"

    @property
    def is_unicast_host(self) -> bool:
        """Whether a single host can sit there: what ``allow_private_targets`` may admit.

        Unspecified (``0.0.0.0`` reaches the local host on Linux), multicast, broadcast and
        reserved addresses never name one shop, so no merchant setting admits them.
        """
        return self not in _NEVER_A_HOST


_NEVER_A_HOST = frozenset({Scope.UNSPECIFIED, Scope.MULTICAST, Scope.BROADCAST, Scope.RESERVED})

# Most specific first: the first network that contains the address decides.
_IPV4_RANGES: tuple[tuple[IPv4Network, Scope], ...] = tuple(
    (IPv4Network(network), scope)
    for network, scope in (
        ("0.0.0.0/8", Scope.UNSPECIFIED),  # "this network"
        ("10.0.0.0/8", Scope.PRIVATE),
        ("100.64.0.0/10", Scope.SHARED),
        ("127.0.0.0/8", Scope.LOOPBACK),
        ("169.254.0.0/16", Scope.LINK_LOCAL),
        ("172.16.0.0/12", Scope.PRIVATE),
        ("192.0.0.0/24", Scope.SPECIAL),  # IETF protocol assignments
        ("192.0.2.0/24", Scope.DOCUMENTATION),
        ("192.88.99.0/24", Scope.SPECIAL),  # deprecated 6to4 relay anycast
        ("192.168.0.0/16", Scope.PRIVATE),
        ("198.18.0.0/15", Scope.BENCHMARKING),
        ("198.51.100.0/24", Scope.DOCUMENTATION),
        ("203.0.113.0/24", Scope.DOCUMENTATION),
        ("224.0.0.0/4", Scope.MULTICAST),
        ("255.255.255.255/32", Scope.BROADCAST),
        ("240.0.0.0/4", Scope.RESERVED),
    )
)
_IPV6_RANGES: tuple[tuple[IPv6Network, Scope], ...] = tuple(
    (IPv6Network(network), scope)
    for network, scope in (
        ("::/128", Scope.UNSPECIFIED),
        ("::1/128", Scope.LOOPBACK),
        ("::/96", Scope.RESERVED),  # IPv4-compatible, deprecated (RFC 4291)
        ("64:ff9b:1::/48", Scope.SPECIAL),  # local-use NAT64 (RFC 8215): some private network
        ("100::/64", Scope.SPECIAL),  # discard-only
        ("2001:2::/48", Scope.BENCHMARKING),
        ("2001::/23", Scope.SPECIAL),  # IETF protocol assignments, Teredo, ORCHID
        ("2001:db8::/32", Scope.DOCUMENTATION),
        ("3fff::/20", Scope.DOCUMENTATION),
        ("5f00::/16", Scope.SPECIAL),  # SRv6 SIDs
        ("fc00::/7", Scope.UNIQUE_LOCAL),
        ("fe80::/10", Scope.LINK_LOCAL),
        ("fec0::/10", Scope.SITE_LOCAL),
        ("ff00::/8", Scope.MULTICAST),
    )
)
# Everything outside 2000::/3 is unassigned or special; nothing there is a shop.
_IPV6_GLOBAL_UNICAST = IPv6Network("2000::/3")
# The well-known NAT64 prefix leads to the IPv4 address in its last 32 bits (RFC 6052).
_NAT64 = IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = IPv6Network("::/96")
# What inet_aton reads as a number (decimal, octal with a leading 0, hex with 0x).
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*")
_IPV4_SPELLING = re.compile(r"[0-9A-Fa-fxX.]+")


@functools.lru_cache(maxsize=4096)
def scope(address: IPAddress) -> Scope:
    """Where ``address`` leads (module docstring)."""
    if isinstance(address, IPv4Address):
        found = next((found for network, found in _IPV4_RANGES if address in network), None)
    else:
        found = _embedded_scope(address)
        if found is None:
            found = next((found for network, found in _IPV6_RANGES if address in network), None)
        if found is None and address not in _IPV6_GLOBAL_UNICAST:
            found = Scope.RESERVED
    if found is not None:
        return found
    return Scope.PUBLIC if address.is_global else Scope.SPECIAL


def is_public_unicast(address: IPAddress) -> bool:
    """Whether ``address`` is globally routable unicast: the only target by default."""
    return scope(address) is Scope.PUBLIC


def is_unicast_host(address: IPAddress) -> bool:
    """Whether ``address`` can be one host, private or not (see :attr:`Scope.is_unicast_host`)."""
    return scope(address).is_unicast_host


def _embedded_scope(address: IPv6Address) -> Scope | None:
    """The scope decided by an IPv4 address inside ``address``, or None to read on.

    A mapped or well-known-prefix NAT64 address leads to its IPv4 address, so that one's scope
    is final either way. The other forms are refused when the IPv4 address inside is not public
    and otherwise judged as IPv6 addresses.
    """
    if address.ipv4_mapped is not None:
        return scope(address.ipv4_mapped)
    if address in _NAT64:
        return scope(_last_32_bits(address))
    inner: list[IPv4Address] = []
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are themselves
        inner.append(_last_32_bits(address))
    if address.sixtofour is not None:
        inner.append(address.sixtofour)
    if address.teredo is not None:
        inner.extend(address.teredo)
    for ipv4 in inner:
        found = scope(ipv4)
        if found is not Scope.PUBLIC:
            return found
    return None


def _last_32_bits(address: IPv6Address) -> IPv4Address:
    return IPv4Address(int(address) & 0xFFFFFFFF)


def read_ipv4(host: str) -> IPv4Address | None:
    """The address a resolver reads in ``host``, or None when it reads a name.

    ``inet_aton`` (which ``getaddrinfo`` and the browsers' URL parsers follow) takes decimal,
    octal (``0177``) and hex (``0x7f``) parts and one to four of them, the last filling the
    remaining bytes: ``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1`` are all
    ``127.0.0.1``. The C library does the reading, so this is exactly its answer; only the
    characters it could take are passed, because glibc ignores anything after a space.
    """
    if not _IPV4_SPELLING.fullmatch(host):
        return None
    try:
        return IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def ends_in_number(host: str) -> bool:
    """Whether a resolver would take ``host`` for an IPv4 address, valid or not.

    The WHATWG URL standard's rule: a host whose last label is a number is an address, and one
    that is not a valid address is no host at all (never a name to look up).
    """
    return bool(_NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]))


def parse_address(text: str) -> IPAddress | None:
    """``text`` as an IP address in its standard spelling, or None (no IPv6 zone ids)."""
    if "%" in text:
        return None
    try:
        return ip_address(text)
    except ValueError:
        return None
