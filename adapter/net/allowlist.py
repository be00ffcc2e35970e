"""A merchant's ``allowed_hosts``: the only thing that vouches for a shop URL.

Entries are ``host``, ``host:port``, ``*.domain``, ``*.domain:port``, an IPv4 address or a
bracketed IPv6 address, each optionally with ``:port``. An entry without a port admits only the
URL scheme's default port (443 for https, 80 for http): listing ``shop.example`` must not open
``shop.example:8443`` or ``:22``. ``*.domain`` admits every name below the domain but not the
domain itself, and never an IP literal. Hosts are compared as :func:`adapter.net.urls.parse_host`
normalises them on both sides, so ``shop.example.`` and ``SHOP.example`` are ``shop.example``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from adapter.net.errors import InvalidUrl
from adapter.net.urls import ShopUrl, check_characters, parse_authority


@dataclass(frozen=True)
class HostPattern:
    """One parsed entry; ``name`` is the domain after ``*.`` for a wildcard entry."""

    name: str
    subdomains_only: bool
    port: int | None

    @classmethod
    def parse(cls, entry: str) -> HostPattern:
        """Read an ``allowed_hosts`` entry or raise :class:`InvalidUrl` saying what is wrong."""
        check_characters(entry)
        if "://" in entry or "/" in entry:
            raise InvalidUrl("must be a host, '*.domain' or host:port, not a URL")
        if entry.count(":") > 1 and not entry.startswith("["):
            raise InvalidUrl("must write an IPv6 address in brackets")
        wildcard = entry.startswith("*.")
        host, port = parse_authority(entry[2:] if wildcard else entry)
        if wildcard:
            if host.address is not None:
                raise InvalidUrl("cannot apply '*.' to an IP address")
            if "." not in host.name:
                raise InvalidUrl("needs at least two labels after '*.' (e.g. *.shop.example)")
        elif "*" in entry:
            raise InvalidUrl("may only use '*' as a leading '*.'")
        return cls(name=host.name, subdomains_only=wildcard, port=port)

    def admits(self, url: ShopUrl) -> bool:
        if url.port != self.port and not (self.port is None and url.has_default_port):
            return False
        if self.subdomains_only:
            return url.address is None and url.host.endswith(f".{self.name}")
        return url.host == self.name


class Allowlist:
    """A merchant's entries, parsed once; raises :class:`InvalidUrl` for a bad entry."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.patterns = tuple(HostPattern.parse(entry) for entry in entries)

    def admits(self, url: ShopUrl) -> bool:
        """Whether ``url``'s host and port match at least one entry."""
        return any(pattern.admits(url) for pattern in self.patterns)


def entry_problem(entry: object) -> str | None:
    """What is wrong with one ``allowed_hosts`` entry, for the configuration check; None if fine."""
    if not isinstance(entry, str):
        return "must be a string: a host, '*.domain' or host:port"
    try:
        HostPattern.parse(entry)
    except InvalidUrl as error:
        return error.reason
    return None
