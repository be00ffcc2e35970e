"""An httpx transport on aiohttp's connection pool, for the one upstream every payment calls.

httpx's own transport (httpcore's pool, through anyio) cost about 1.1 ms of CPU per Alipay+
call under load, more than the call's RSA signature: its pool re-examines every connection
for every queued request, often hands two requests the same connection and retries the
loser, and wraps each read in an anyio cancel scope. aiohttp's pool, with its C HTTP parser,
does the same exchange for about 0.2 ms (docs/performance.md#known-traps). The Alipay+ client
keeps speaking httpx (its tests inject httpx transports); only the wire underneath changes.

Every failure of the exchange is an :class:`httpx.TransportError`, so a caller that treats
those as "no answer" (the Alipay+ client: unknown, ask again with the same ids) sees each
one. Redirects are never followed, environment proxies never used, answers larger than
``max_response_bytes`` refused.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator

import aiohttp
import httpx

MAX_RESPONSE_BYTES = 1024 * 1024


@contextlib.contextmanager
def as_httpx_errors(request: httpx.Request | None) -> Iterator[None]:
    """aiohttp's exceptions as the httpx ones; the timeouts first (some are also connection
    errors), then the most specific."""
    try:
        yield
    except TimeoutError as error:
        if isinstance(error, aiohttp.ConnectionTimeoutError):
            raise httpx.ConnectTimeout(str(error), request=request) from error
        raise httpx.ReadTimeout(str(error) or "no answer in time", request=request) from error
    except aiohttp.ClientConnectorError as error:
        raise httpx.ConnectError(str(error), request=request) from error
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError) as error:
        raise httpx.RemoteProtocolError(str(error), request=request) from error
    except aiohttp.InvalidURL as error:
        raise httpx.UnsupportedProtocol(str(error), request=request) from error
    except (aiohttp.ClientError, OSError) as error:
        raise httpx.ReadError(str(error) or type(error).__name__, request=request) from error


class PooledTransport(httpx.AsyncBaseTransport):
    """Keep-alive connections to a few hosts, at most ``max_connections`` open at once."""

    def __init__(
        self,
        *,
        max_connections: int,
        keepalive_seconds: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self._max_connections = max_connections
        self._keepalive_seconds = keepalive_seconds
        self._ssl_context = ssl_context or httpx.create_ssl_context()
        self._max_response_bytes = max_response_bytes
        self._session: aiohttp.ClientSession | None = None

    def _opened(self) -> aiohttp.ClientSession:
        # Made on first use: an aiohttp session belongs to the event loop it was made in.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=self._keepalive_seconds,
                ssl=self._ssl_context,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,
                auto_decompress=False,  # httpx decodes by Content-Encoding itself
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        content = await request.aread()
        with as_httpx_errors(request):
            async with self._opened().request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=content or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    connect=timeouts.get("pool"),
                    sock_connect=timeouts.get("connect"),
                    sock_read=timeouts.get("read"),
                ),
            ) as response:
                body = await self._read_capped(response, request)
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            content=body,
            request=request,
        )

    async def _read_capped(self, response: aiohttp.ClientResponse, request: httpx.Request) -> bytes:
        body = bytearray()
        async for chunk in response.content.iter_any():
            body += chunk
            if len(body) > self._max_response_bytes:
                raise httpx.ReadError(
                    f"answer larger than {self._max_response_bytes} bytes", request=request
                )
        return bytes(body)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
