"""Whether a host may be connected to, checked on every address it has right now.

A name is resolved and refused unless *every* address it has is admitted: with several answers
the connection could go to any of them, and a name that mixes a public and an internal address
is exactly what DNS rebinding serves. The addresses that passed are returned, and the caller
connects to one of those (:mod:`adapter.net.transport`), never to a second lookup's answer.
IP literals are read, not resolved. Names that mean this machine are refused before any lookup,
whatever a hosts file or resolver would say about them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from adapter.net.addresses import IPAddress, is_public_unicast, is_unicast_host, scope
from adapter.net.errors import UnresolvedHost, UnsafeTarget
from adapter.net.resolver import Resolver
from adapter.net.urls import Host, read_host

# /etc/hosts names for the loopback interface; RFC 6761 reserves all of *.localhost.
_LOOPBACK_NAMES = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "localhost4",
        "localhost4.localdomain4",
        "localhost6",
        "localhost6.localdomain6",
        "ip6-localhost",
        "ip6-loopback",
    }
)


@dataclass(frozen=True)
class TargetPolicy:
    """Which addresses a merchant's URLs may lead to."""

    admits: Callable[[IPAddress], bool]
    refuses_loopback_names: bool


PUBLIC_ONLY = TargetPolicy(admits=is_public_unicast, refuses_loopback_names=True)
# allow_private_targets: any unicast host, but never multicast, broadcast or 0.0.0.0.
PRIVATE_ALLOWED = TargetPolicy(admits=is_unicast_host, refuses_loopback_names=False)


def target_policy(allow_private_targets: bool) -> TargetPolicy:
    """The policy of a merchant's ``allow_private_targets`` setting."""
    return PRIVATE_ALLOWED if allow_private_targets else PUBLIC_ONLY


def is_loopback_name(host: str) -> bool:
    """Whether ``host`` (normalised) names this machine by convention."""
    return host in _LOOPBACK_NAMES or host.endswith(".localhost")


def check_without_lookup(host: str, policy: TargetPolicy) -> Host:
    """Refuse what needs no lookup: an IP literal ``policy`` does not admit, a loopback name.

    For URLs that only a browser follows (URLSuccess, URLFailure, URLBack) this is the whole
    check: the adapter never connects to them, and the browser does its own lookup.
    """
    parsed = read_host(host)
    if parsed.address is not None:
        _admit(parsed.address, policy)
    elif policy.refuses_loopback_names and is_loopback_name(parsed.name):
        raise UnsafeTarget("has a host that names this machine")
    return parsed


async def check_host(
    host: str, port: int, resolver: Resolver, policy: TargetPolicy
) -> tuple[IPAddress, ...]:
    """The addresses to connect to for ``host``, all admitted; raises :class:`TargetRefused`.

    ``host`` is read by :func:`adapter.net.urls.read_host`, so both a ``ShopUrl``'s host and the
    host of the httpx request about to be sent can be passed; an odd IPv4 spelling is refused
    as :class:`InvalidUrl`.
    """
    parsed = check_without_lookup(host, policy)
    if parsed.address is not None:
        return (parsed.address,)
    addresses = tuple(await resolver.resolve(parsed.name, port))
    if not addresses:
        raise UnresolvedHost("has a host that does not resolve")
    for address in addresses:
        _admit(address, policy)
    return addresses


def _admit(address: IPAddress, policy: TargetPolicy) -> None:
    if not policy.admits(address):
        raise UnsafeTarget(f"has a host that leads to a non-public address ({scope(address)})")
