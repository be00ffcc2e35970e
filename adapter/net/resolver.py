"""Looking up a host's addresses, behind an interface so tests and operators can replace it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from typing import Protocol

from adapter.net.addresses import IPAddress, parse_address
from adapter.net.errors import UnresolvedHost, UnsafeTarget

RESOLVE_TIMEOUT_SECONDS = 5.0


class Resolver(Protocol):
    """Every address ``host`` has for TCP on ``port``; raises :class:`UnresolvedHost` if none."""

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]: ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``: hosts file, DNS, search domains)."""

    def __init__(self, timeout: float = RESOLVE_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                infos = await loop.getaddrinfo(
                    host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
                )
        except TimeoutError:
            raise UnresolvedHost(
                f"has a host that did not resolve within {self.timeout:g} s"
            ) from None
        except (OSError, UnicodeError):
            raise UnresolvedHost("has a host that does not resolve") from None
        addresses: list[IPAddress] = []
        for _, _, _, _, sockaddr in infos:
            address = parse_address(str(sockaddr[0]).partition("%")[0])
            if address is None:
                raise UnsafeTarget("has a host that resolves to an address that cannot be read")
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise UnresolvedHost("has a host that does not resolve")
        return addresses
