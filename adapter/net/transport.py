"""An httpx transport that checks a request's host and connects only to the address it checked.

Checking a URL and then letting the HTTP client resolve it again leaves a window: a DNS answer
can change between the two lookups (rebinding), so the check would vouch for an address that is
never used. Here the guard's lookup is the only one: httpcore's network backend extension point
gets a backend pinned to the checked addresses, while the request keeps its host name, so the
Host header, TLS SNI and certificate verification are all about the name.

Each request gets its own connection, closed afterwards: a pooled connection would have been
checked for an earlier request. Redirects are never followed (a transport cannot follow them,
and :func:`guarded_client` tells httpx not to), environment proxies are never used, and at most
``max_response_bytes`` of a body are read; the rest is dropped unread.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import httpcore
import httpx

from adapter.net.addresses import IPAddress
from adapter.net.guard import TargetPolicy, check_host
from adapter.net.resolver import Resolver
from adapter.net.streams import AsyncioBackend
from adapter.net.urls import DEFAULT_PORTS

MAX_RESPONSE_BYTES = 64 * 1024

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
    ) -> None:
        self.resolver = resolver
        self.policy = policy
        self.ssl_context = ssl_context or httpx.create_ssl_context()
        self.max_response_bytes = max_response_bytes
        self.network_backend = network_backend or AsyncioBackend()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol("only http and https are sent", request=request)
        host = url.raw_host.decode("ascii")
        port = url.port or DEFAULT_PORTS["https" if url.scheme == "https" else "http"]
        addresses = await check_host(host, port, self.resolver, self.policy)
        connection = httpcore.AsyncHTTPConnection(
            origin=httpcore.Origin(url.raw_scheme, url.raw_host, port),
            ssl_context=self.ssl_context,
            network_backend=PinnedBackend(host, port, addresses, self.network_backend),
        )
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            # Only the timeouts: an "sni_hostname" would let TLS check another name.
            extensions={"timeout": request.extensions.get("timeout", {})},
        )
        try:
            with _as_httpx_errors(request):
                response = await connection.handle_async_request(core_request)
                try:
                    body = await _read_capped(response, self.max_response_bytes)
                finally:
                    await response.aclose()
        finally:
            await connection.aclose()
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            content=body,
            request=request,
        )


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
    beside this one, and the proxy would resolve the host itself. Bodies are asked for
    uncompressed so the cap bounds what is held in memory.
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
        headers={"accept-encoding": "identity"},
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
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        for core_error, httpx_error in _HTTPX_ERRORS:
            if isinstance(error, core_error):
                raise httpx_error(str(error), request=request) from error
        raise
