"""The pooled transport under the Alipay+ client: a real loopback peer on every test; each
failure of the exchange is an httpx transport error, which the client reads as "no answer"."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from adapter.net.pooled import PooledTransport
from tests.support.servers import free_port, serve

TIMEOUT = httpx.Timeout(10.0).as_dict()
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _post(url: str, content: bytes = b"{}", timeout: Any = TIMEOUT) -> httpx.Request:
    return httpx.Request(
        "POST",
        url,
        content=content,
        headers={"content-type": "application/json", "signature": "algorithm=RSA256,signature=x"},
        extensions={"timeout": timeout},
    )


async def _send(transport: PooledTransport, request: httpx.Request) -> httpx.Response:
    response = await transport.handle_async_request(request)
    await response.aread()
    return response


@contextlib.asynccontextmanager
async def _peer(handle: Handler) -> AsyncIterator[str]:
    """A raw TCP peer on loopback, for answers no HTTP server would give."""
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/payments/pay"
    finally:
        server.close()
        await server.wait_closed()


async def _request_head(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    await reader.readexactly(length)


class Recorder:
    """An ASGI app that answers 200 with what it got, and notes each request's client port and
    how many requests it held at once."""

    def __init__(self, status: int = 200, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        self.status = status
        self.headers = headers
        self.ports: set[int] = set()
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.ports.add(scope["client"][1])
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        await asyncio.sleep(0.005)  # lets concurrent requests overlap
        self.in_flight -= 1
        answer = b"%s %s %s %s" % (
            scope["method"].encode(),
            scope["path"].encode(),
            dict(scope["headers"]).get(b"signature", b"-"),
            body,
        )
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": answer})


async def test_a_post_arrives_whole_and_its_answer_comes_back() -> None:
    recorder = Recorder(headers=((b"response-time", b"2026-12-06T10:00:00Z"),))
    transport = PooledTransport(max_connections=2)
    with serve(recorder) as url:
        response = await _send(transport, _post(f"{url}/v1/payments/pay", b'{"a":1}'))
    await transport.aclose()
    assert response.status_code == 200
    assert response.content == b'POST /v1/payments/pay algorithm=RSA256,signature=x {"a":1}'
    assert response.headers["response-time"] == "2026-12-06T10:00:00Z"


async def test_connections_are_reused_and_never_more_than_the_limit() -> None:
    recorder = Recorder()
    transport = PooledTransport(max_connections=3)
    with serve(recorder) as url:
        answers = await asyncio.gather(*(_send(transport, _post(url)) for _ in range(40)))
        await asyncio.gather(*(_send(transport, _post(url)) for _ in range(10)))
    await transport.aclose()
    assert all(answer.status_code == 200 for answer in answers)
    assert recorder.most_in_flight <= 3
    assert len(recorder.ports) <= 3


async def test_a_redirect_is_handed_back_not_followed() -> None:
    recorder = Recorder(status=307, headers=((b"location", b"/elsewhere"),))
    transport = PooledTransport(max_connections=1)
    with serve(recorder) as url:
        response = await _send(transport, _post(f"{url}/v1/payments/pay"))
    await transport.aclose()
    assert response.status_code == 307
    assert len(recorder.ports) == 1
    assert response.content.startswith(b"POST /v1/payments/pay")


async def test_nobody_listening_is_a_connect_error() -> None:
    transport = PooledTransport(max_connections=1)
    with pytest.raises(httpx.ConnectError):
        await _send(transport, _post(f"http://127.0.0.1:{free_port()}/v1/payments/pay"))
    await transport.aclose()


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request_head(reader)
    writer.close()


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request_head(reader)
    writer.write(b"SMTP ready\r\n\r\n")
    await writer.drain()
    writer.close()


async def _truncated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request_head(reader)
    writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"result":')
    await writer.drain()
    writer.close()


@pytest.mark.parametrize(
    "peer",
    [_hang_up, _garbage, _truncated],
    ids=["hangs up after the request", "answers not HTTP", "answers half a body"],
)
async def test_a_broken_exchange_is_a_transport_error(peer: Handler) -> None:
    transport = PooledTransport(max_connections=1)
    async with _peer(peer) as url:
        with pytest.raises(httpx.TransportError):
            await _send(transport, _post(url))
    await transport.aclose()


async def test_a_peer_that_never_answers_is_a_read_timeout() -> None:
    held = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request_head(reader)
        await held.wait()
        writer.close()

    transport = PooledTransport(max_connections=1)
    async with _peer(silent) as url:
        with pytest.raises(httpx.ReadTimeout):
            await _send(transport, _post(url, timeout=httpx.Timeout(10.0, read=0.2).as_dict()))
        held.set()
    await transport.aclose()


async def test_an_answer_over_the_cap_is_refused() -> None:
    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n" + b"x" * 5000)
        await writer.drain()
        writer.close()

    transport = PooledTransport(max_connections=1, max_response_bytes=4096)
    async with _peer(flood) as url:
        with pytest.raises(httpx.ReadError, match="larger than 4096 bytes"):
            await _send(transport, _post(url))
    await transport.aclose()


async def test_closing_the_transport_closes_its_kept_connections() -> None:
    hung_up = asyncio.Event()

    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        if await reader.read(1) == b"":
            hung_up.set()
        writer.close()

    transport = PooledTransport(max_connections=1)
    async with _peer(keep_alive) as url:
        response = await _send(transport, _post(url))
        assert response.content == b"ok"
        assert not hung_up.is_set()
        await transport.aclose()
        await asyncio.wait_for(hung_up.wait(), timeout=10)


async def test_environment_proxies_are_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy variable must not reroute a payment call through someone else's host."""
    proxied: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        proxied.append(await reader.read(100))
        writer.close()

    recorder = Recorder()
    transport = PooledTransport(max_connections=1)
    async with _peer(proxy) as proxy_url:
        address = proxy_url.removesuffix("/v1/payments/pay")
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
            monkeypatch.setenv(name, address)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with serve(recorder) as url:
            response = await _send(transport, _post(f"{url}/v1/payments/pay"))
    await transport.aclose()
    assert response.status_code == 200
    assert len(recorder.ports) == 1
    assert proxied == []
