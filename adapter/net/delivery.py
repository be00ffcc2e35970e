"""POSTs to a shop's URLNotify that check the host every time and connect only where it checked.

Checking a URL and then letting the HTTP client resolve it again leaves a window: a DNS answer
can change between the two lookups (rebinding), so the check would vouch for an address that is
never used. Here the guard's lookup is the only one: aiohttp gets a resolver that answers with
the checked addresses alone, while the URL keeps its host name, so the Host header, TLS SNI and
certificate verification are all about the name.

Every POST is checked, and a connection kept open from an earlier POST is reused only when this
POST's check returned exactly the addresses that connection was checked for (same scheme, host
and port): each such pin has a connection pool of its own, so a name that now resolves elsewhere
gets a new connection to where it resolves now, or none. Kept connections idle at most
``keepalive_seconds``; one the shop closed, or one whose answer was not read to its end, is never
reused. Reuse spares each delivery a TCP (and TLS) handshake.

aiohttp rather than httpx: the same exchange through httpcore (its h11 state machine, anyio
locks and cancel scopes) cost a delivery about 210 µs of CPU, on aiohttp's C parser about 110
(docs/performance.md#known-traps). Redirects are never followed, environment proxies never used,
cookies never kept, a POST takes at most ``deadline_seconds`` in all, and at most
``max_response_bytes`` of an answer are read; the rest is dropped with its connection. Failures
are raised as httpx's exceptions, as every other HTTP call of the adapter raises them.
"""

from __future__ import annotations

import functools
import socket
import ssl
import time
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from adapter.net.addresses import IPAddress
from adapter.net.guard import TargetPolicy, check_host
from adapter.net.pooled import as_httpx_errors
from adapter.net.resolver import Resolver
from adapter.net.urls import DEFAULT_PORTS

MAX_RESPONSE_BYTES = 64 * 1024
KEEPALIVE_SECONDS = 5.0
# The longest one POST may take in all: each read has its own timeout, but a shop that drips
# its answer a byte at a time would otherwise hold the delivery, and the outbox pass it is in.
DEADLINE_SECONDS = 30.0
MAX_KEPT_POOLS = 32  # over all shops; the longest unused is closed first


class AddressRoute(Protocol):
    """Where a connection to a checked address and port really goes: there, except in tests,
    which route public addresses to loopback sinks and see every connection asked for. Raising
    :class:`OSError` refuses that address (the next checked one is tried).

    A URL whose host is an IP literal is connected to that address without asking: aiohttp
    looks up no literal, and the literal itself is what :func:`check_host` admitted.
    """

    def __call__(self, address: IPAddress, port: int) -> tuple[str, int]: ...


def direct(address: IPAddress, port: int) -> tuple[str, int]:
    return str(address), port


# Bodies are asked for uncompressed, so the cap bounds what is held in memory.
_CLIENT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "identity", "User-Agent": "paygate-adapter"}
_RESENT_ONCE = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


class _Target(NamedTuple):
    """A URL as a POST needs it: read once by httpx, rebuilt for aiohttp without re-quoting."""

    scheme: str
    host: str  # IDNA-encoded; an IPv6 address without brackets
    port: int
    host_header: str
    url: URL


@functools.lru_cache(maxsize=256)
def _target(url: str) -> _Target:
    # A URLNotify is posted to again and again: its reading is kept (both URLs are immutable).
    parsed = httpx.URL(url)
    if parsed.scheme not in DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol("only http and https are sent")
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or DEFAULT_PORTS["https" if parsed.scheme == "https" else "http"]
    path, _, query = parsed.raw_path.decode("ascii").partition("?")
    built = URL.build(
        scheme=parsed.scheme,
        host=f"[{host}]" if ":" in host else host,
        port=port,
        path=path,
        query_string=query,
        encoded=True,  # sent as httpx reads it, never re-quoted
    )
    return _Target(parsed.scheme, host, port, parsed.netloc.decode("ascii"), built)


class _Pin(NamedTuple):
    """What a pool was opened for: it serves only a POST whose check says the same."""

    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


class PinnedResolver(AbstractResolver):
    """aiohttp's resolver for one pin: its host and port resolve to the checked addresses."""

    def __init__(self, pin: _Pin, route: AddressRoute) -> None:
        self._pin = pin
        self._route = route

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        pin = self._pin
        if (host, port) != (pin.host, pin.port):
            raise OSError("this connection is pinned to another host")
        answers: list[ResolveResult] = []
        for address in pin.addresses:
            try:
                to_host, to_port = self._route(address, port)
            except OSError:
                continue
            answers.append(
                ResolveResult(
                    hostname=host,  # TLS checks the name, whatever address is connected to
                    host=to_host,
                    port=to_port,
                    family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                    proto=0,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if not answers:
            raise OSError("no checked address to connect to")
        return answers

    async def close(self) -> None:
        return None


@dataclass
class _Pool:
    session: aiohttp.ClientSession
    last_used: float  # time.monotonic()
    busy: int = 0  # POSTs under way


class GuardedPoster:
    """Checks every POST's host with ``policy`` (:func:`check_host`), then sends it pinned.

    A refused host raises :class:`adapter.net.errors.TargetRefused` before any connection;
    a failed exchange raises httpx's :class:`httpx.TransportError` of its kind.
    """

    def __init__(
        self,
        resolver: Resolver,
        policy: TargetPolicy,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
        deadline_seconds: float = DEADLINE_SECONDS,
        route: AddressRoute = direct,
    ) -> None:
        self.resolver = resolver
        self.policy = policy
        self.ssl_context = ssl_context or httpx.create_ssl_context()
        self.max_response_bytes = max_response_bytes
        self.keepalive_seconds = keepalive_seconds
        self.deadline_seconds = deadline_seconds
        self.route = route
        self._pools: dict[_Pin, _Pool] = {}  # the longest unused first

    async def post(
        self, url: str, content: bytes, content_type: str, timeout: httpx.Timeout
    ) -> int:
        """POST ``content`` to ``url``; the answer's HTTP status (a redirect is an answer too)."""
        target = _target(url)
        addresses = await check_host(target.host, target.port, self.resolver, self.policy)
        headers = {**_CLIENT_HEADERS, "Host": target.host_header, "Content-Type": content_type}
        pool = await self._pool(_Pin(target.scheme, target.host, target.port, addresses))
        try:
            with as_httpx_errors(None):
                try:
                    return await self._exchange(pool.session, target.url, headers, content, timeout)
                except aiohttp.ClientConnectorError:
                    raise
                except _RESENT_ONCE:
                    # Dropped without an answer: a kept connection the shop closed as the POST
                    # went out. Sent again, once, on a new connection. (A URLNotify may arrive
                    # twice in any case: deliveries are at least once.)
                    return await self._exchange(pool.session, target.url, headers, content, timeout)
        finally:
            pool.busy -= 1
            pool.last_used = time.monotonic()

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        target: URL,
        headers: dict[str, str],
        content: bytes,
        timeout: httpx.Timeout,
    ) -> int:
        async with session.post(
            target,
            data=content,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(
                total=self.deadline_seconds,
                connect=timeout.pool,
                sock_connect=timeout.connect,
                sock_read=timeout.read,
            ),
        ) as response:
            # At most the cap is read; aiohttp closes a connection whose answer was not read
            # to its end rather than keep it.
            read = 0
            while read < self.max_response_bytes:
                chunk = await response.content.read(self.max_response_bytes - read)
                if not chunk:
                    break
                read += len(chunk)
            return response.status

    async def _pool(self, pin: _Pin) -> _Pool:
        """The pool opened for exactly ``pin``, counted busy; pools unused for a keep-alive time,
        and the longest unused beyond :data:`MAX_KEPT_POOLS`, are closed."""
        now = time.monotonic()
        pool = self._pools.pop(pin, None)  # put back last: the most recently used
        if pool is None or pool.session.closed:
            pool = _Pool(self._open(pin), now)
        pool.busy += 1
        self._pools[pin] = pool
        idle = [other for other, kept in self._pools.items() if not kept.busy]
        over = len(self._pools) - MAX_KEPT_POOLS
        closing = [
            self._pools.pop(other).session
            for index, other in enumerate(idle)
            if index < over or now - self._pools[other].last_used > self.keepalive_seconds
        ]
        try:
            for session in closing:
                await session.close()
        except BaseException:
            pool.busy -= 1
            raise
        return pool

    def _open(self, pin: _Pin) -> aiohttp.ClientSession:
        keep = self.keepalive_seconds > 0
        connector = aiohttp.TCPConnector(
            resolver=PinnedResolver(pin, self.route),
            use_dns_cache=False,
            ssl=self.ssl_context,
            force_close=not keep,
            keepalive_timeout=self.keepalive_seconds if keep else None,
            happy_eyeballs_delay=None,  # the checked addresses in order, one at a time
        )
        return aiohttp.ClientSession(
            connector=connector,
            trust_env=False,  # an HTTP(S)_PROXY would resolve the host itself, after our check
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
        )

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            await pool.session.close()
