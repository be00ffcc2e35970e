"""An httpx transport that checks a request's host and connects only to the address it checked.

Checking a URL and then letting the HTTP client resolve it again leaves a window: a DNS answer
can change between the two lookups (rebinding), so the check would vouch for an address that is
never used. Here the guard's lookup is the only one: httpcore's network backend extension point
gets a backend pinned to the checked addresses, while the request keeps its host name, so the
Host header, TLS SNI and certificate verification are all about the name.

Every request is checked, and a connection kept open from an earlier request is reused only
when this request's check returned exactly the addresses that connection was checked for
(same scheme, host and port): a name that now resolves elsewhere gets a new connection to where
it resolves now, or none. Kept connections idle at most ``keepalive_seconds``; one the shop
closed, or one whose answer was not read to its end, is never reused. Reuse spares each
URLNotify delivery a TCP (and TLS) handshake, about half of its CPU (docs/performance.md).

Redirects are never followed (a transport cannot follow them, and :func:`guarded_client`
tells httpx not to), environment proxies are never used, and at most ``max_response_bytes`` of
a body are read; the rest is dropped unread.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import NamedTuple

import httpcore
import httpx

from adapter.net.addresses import IPAddress
from adapter.net.guard import TargetPolicy, check_host
from adapter.net.resolver import Resolver
from adapter.net.streams import AsyncioBackend
from adapter.net.urls import DEFAULT_PORTS

MAX_RESPONSE_BYTES = 64 * 1024
KEEPALIVE_SECONDS = 5.0
MAX_IDLE_CONNECTIONS = 32  # over all shops; the longest idle is closed first

# httpcore's exceptions as the httpx ones callers catch; the most specific first.
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections for one host to its checked addresses, tried in order."""

    def __init__(
        self,
        host: str,
        port: int,
        addresses: Sequence[IPAddress],
        inner: httpcore.AsyncNetworkBackend,
    ) -> None:
        self._host = host
        self._port = port
        self._addresses = tuple(addresses)
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if (host, port) != (self._host, self._port):
            raise httpcore.ConnectError("this connection is pinned to another host")
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in self._addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        raise failure or httpcore.ConnectError("no checked address to connect to")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("a shop is never reached through a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Pin(NamedTuple):
    """What a connection was opened for: it serves only a request whose check says the same."""

    scheme: bytes
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


class _Idle(NamedTuple):
    pin: _Pin
    connection: httpcore.AsyncHTTPConnection
    since: float  # time.monotonic() when it was put back


class _Answer(NamedTuple):
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


# Bodies are asked for uncompressed, so the cap bounds what is held in memory.
_CLIENT_HEADERS = {"accept": "*/*", "accept-encoding": "identity", "user-agent": "paygate-adapter"}
_CLIENT_HEADER_LINES = tuple(
    (name.encode(), value.encode()) for name, value in _CLIENT_HEADERS.items()
)


@functools.lru_cache(maxsize=256)
def _url(text: str) -> httpx.URL:
    # A URLNotify is posted to again and again: its parse is kept (httpx.URL is immutable).
    return httpx.URL(text)


_RETRIED_ON_A_NEW_CONNECTION = (
    httpcore.ReadError,
    httpcore.WriteError,
    httpcore.RemoteProtocolError,
)


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks every request's host with ``policy`` (:func:`check_host`), then sends it pinned.

    A refused host raises :class:`adapter.net.errors.TargetRefused` before any connection.
    ``network_backend`` is for tests; by default :class:`~adapter.net.streams.AsyncioBackend`
    connects.
    """

    def __init__(
        self,
        resolver: Resolver,
        policy: TargetPolicy,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
    ) -> None:
        self.resolver = resolver
        self.policy = policy
        self.ssl_context = ssl_context or httpx.create_ssl_context()
        self.max_response_bytes = max_response_bytes
        self.network_backend = network_backend or AsyncioBackend()
        self.keepalive_seconds = keepalive_seconds
        self._idle: list[_Idle] = []  # the longest idle first

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = await self._send(
            request.url,
            request.method,
            request.headers.raw,
            request.stream,
            request.extensions.get("timeout", {}),
            request,
        )
        return httpx.Response(
            status_code=answer.status, headers=answer.headers, content=answer.body, request=request
        )

    async def post(
        self, url: str, content: bytes, content_type: str, timeout: httpx.Timeout
    ) -> int:
        """POST ``content`` to ``url`` through this transport alone, as a delivery does; the
        answer's HTTP status.

        What httpx's client would add on top (cookies, auth and redirect flows, its default
        headers merged per request) and its request and response objects cost a URLNotify
        delivery about a third of its CPU, and are nothing a delivery uses; the headers are
        what :func:`guarded_client` would send.
        """
        parsed = _url(url)
        headers = [
            (b"host", parsed.netloc),
            *_CLIENT_HEADER_LINES,
            (b"content-type", content_type.encode("latin-1")),
            (b"content-length", str(len(content)).encode("ascii")),
        ]
        answer = await self._send(parsed, "POST", headers, content, timeout.as_dict(), None)
        return answer.status

    async def _send(
        self,
        url: httpx.URL,
        method: str,
        headers: Sequence[tuple[bytes, bytes]],
        content: bytes | httpx.AsyncByteStream | httpx.SyncByteStream,
        timeout: Mapping[str, float | None],
        request: httpx.Request | None,
    ) -> _Answer:
        if url.scheme not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol("only http and https are sent", request=request)
        host = url.raw_host.decode("ascii")
        port = url.port or DEFAULT_PORTS["https" if url.scheme == "https" else "http"]
        addresses = await check_host(host, port, self.resolver, self.policy)
        pin = _Pin(url.raw_scheme, host, port, tuple(addresses))
        core_request = httpcore.Request(
            method=method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=port, target=url.raw_path
            ),
            headers=headers,
            content=content,
            # Only the timeouts: an "sni_hostname" would let TLS check another name.
            extensions={"timeout": timeout},
        )
        with _as_httpx_errors(request):
            kept = await self._kept_connection(pin)
            if kept is not None:
                try:
                    return await self._exchange(kept, pin, core_request)
                except _RETRIED_ON_A_NEW_CONNECTION:
                    # The shop closed the kept connection as the request went out: nothing
                    # was answered, so it is sent again, once, on a connection of its own.
                    # (A URLNotify may arrive twice in any case: deliveries are at least once.)
                    pass
            return await self._exchange(self._new_connection(pin), pin, core_request)

    def _new_connection(self, pin: _Pin) -> httpcore.AsyncHTTPConnection:
        return httpcore.AsyncHTTPConnection(
            origin=httpcore.Origin(pin.scheme, pin.host.encode("ascii"), pin.port),
            ssl_context=self.ssl_context,
            keepalive_expiry=self.keepalive_seconds,
            network_backend=PinnedBackend(pin.host, pin.port, pin.addresses, self.network_backend),
        )

    async def _exchange(
        self,
        connection: httpcore.AsyncHTTPConnection,
        pin: _Pin,
        core_request: httpcore.Request,
    ) -> _Answer:
        """Send on ``connection``; keep it for the next request if it may be reused."""
        try:
            response = await connection.handle_async_request(core_request)
            try:
                body = await _read_capped(response, self.max_response_bytes)
            finally:
                # An answer not read to its end leaves the connection closed, never idle.
                await response.aclose()
        except BaseException:
            await connection.aclose()
            raise
        await self._put_back(pin, connection)
        return _Answer(response.status, response.headers, body)

    async def _kept_connection(self, pin: _Pin) -> httpcore.AsyncHTTPConnection | None:
        """An idle connection opened for exactly ``pin``, if one is still open; the stale go."""
        oldest_kept = time.monotonic() - self.keepalive_seconds
        found: httpcore.AsyncHTTPConnection | None = None
        stale: list[httpcore.AsyncHTTPConnection] = []
        kept: list[_Idle] = []
        for idle in self._idle:  # no await in here: another task may change the list
            if idle.since < oldest_kept:
                stale.append(idle.connection)
            elif found is None and idle.pin == pin:
                found = idle.connection
            else:
                kept.append(idle)
        self._idle = kept
        if found is not None and (found.has_expired() or not found.is_idle()):
            stale.append(found)
            found = None
        for connection in stale:
            await connection.aclose()
        return found

    async def _put_back(self, pin: _Pin, connection: httpcore.AsyncHTTPConnection) -> None:
        if self.keepalive_seconds <= 0 or not connection.is_idle():
            await connection.aclose()
            return
        self._idle.append(_Idle(pin, connection, time.monotonic()))
        while len(self._idle) > MAX_IDLE_CONNECTIONS:
            await self._idle.pop(0).connection.aclose()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for kept in idle:
            await kept.connection.aclose()


def guarded_client(
    resolver: Resolver,
    policy: TargetPolicy,
    *,
    timeout: httpx.Timeout,
    ssl_context: ssl.SSLContext | None = None,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
    network_backend: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncClient:
    """An httpx client for shop URLs: guarded transport, no redirects, no proxies from the env.

    ``trust_env=False`` matters: an ``HTTPS_PROXY`` variable would mount a proxy transport
    beside this one, and the proxy would resolve the host itself.
    """
    transport = GuardedTransport(
        resolver,
        policy,
        ssl_context=ssl_context,
        max_response_bytes=max_response_bytes,
        network_backend=network_backend,
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers=_CLIENT_HEADERS,
    )


async def _read_capped(response: httpcore.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_stream():
        chunks.append(chunk[: limit - size])
        size += len(chunks[-1])
        if size >= limit:
            break
    return b"".join(chunks)


@contextmanager
def _as_httpx_errors(request: httpx.Request | None) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        for core_error, httpx_error in _HTTPX_ERRORS:
            if isinstance(error, core_error):
                raise httpx_error(str(error), request=request) from error
        raise
