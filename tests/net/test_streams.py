"""The asyncio network backend under the guarded transport, against raw loopback peers (TLS,
pinning and caps through it: tests/net/test_transport.py)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpcore
import pytest

from adapter.net.streams import AsyncioBackend
from tests.support.servers import free_port
from tests.support.waiting import wait_until_async

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
PATIENCE = 10.0


@contextlib.asynccontextmanager
async def _peer(handle: Handler) -> AsyncIterator[int]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(await reader.readexactly(5))
    await writer.drain()
    await reader.read()  # until the client hangs up
    writer.close()


async def test_what_is_written_reaches_the_peer_and_its_answer_is_read() -> None:
    async with _peer(_echo) as port:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=PATIENCE)
        await stream.write(b"hello", timeout=PATIENCE)
        assert await stream.read(100, timeout=PATIENCE) == b"hello"
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
        assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
        assert stream.get_extra_info("ssl_object") is None
        await stream.aclose()


async def test_a_silent_peer_is_a_read_timeout() -> None:
    async with _peer(_echo) as port:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=PATIENCE)
        with pytest.raises(httpcore.ReadTimeout):
            await stream.read(100, timeout=0.05)
        await stream.aclose()


async def test_nobody_listening_is_a_connect_error() -> None:
    with pytest.raises(httpcore.ConnectError):
        await AsyncioBackend().connect_tcp("127.0.0.1", free_port(), timeout=PATIENCE)


async def test_an_idle_connection_turns_readable_when_the_peer_closes_it() -> None:
    close = asyncio.Event()

    async def closes_when_told(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await close.wait()
        writer.close()

    async with _peer(closes_when_told) as port:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=PATIENCE)
        assert stream.get_extra_info("is_readable") is False
        close.set()
        await wait_until_async(
            lambda: stream.get_extra_info("is_readable"), message="the close never showed"
        )
        assert await stream.read(100, timeout=PATIENCE) == b""
        await stream.aclose()


async def test_the_socket_options_asked_for_are_set() -> None:
    async with _peer(_echo) as port:
        stream = await AsyncioBackend().connect_tcp(
            "127.0.0.1",
            port,
            timeout=PATIENCE,
            socket_options=[(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)],
        )
        sock = stream.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        await stream.aclose()


async def test_writing_after_the_close_is_a_write_error() -> None:
    async with _peer(_echo) as port:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=PATIENCE)
        await stream.aclose()
        with pytest.raises(httpcore.WriteError):
            await stream.write(b"late", timeout=PATIENCE)
