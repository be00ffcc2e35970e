"""The HTTP/1.1 protocol the adapter is served with: uvicorn's httptools protocol, sending each
answer's head and body in one write.

uvicorn writes an answer's status line and headers when the app starts the answer, and the
body when the app sends it: two system calls and two segments for answers that fit in one, and
on loopback the kernel's receive path runs twice in the sender (docs/performance.md#known-traps).
Here the head is held back until the next write, which it joins, or until the event loop's
current turn ends, whichever comes first: an answer to HEAD and an app that waits between head
and body send no write for the head to join, and still get their head out at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Every head uvicorn writes (an answer, 100 Continue, its own 400) starts with the status line.
_HEAD = b"HTTP/1.1 "

Data = bytes | bytearray | memoryview


class HeadWithBody(asyncio.Transport):
    """A transport that holds a written head back until the next write or the turn's end.

    A body that happens to start like a head is held the same way: order is kept either way.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None

    def write(self, data: Data) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(b"".join((head, data)))
        elif isinstance(data, bytes) and data.startswith(_HEAD):
            self._head = data
            self._loop.call_soon(self._send_head)
        else:
            self._transport.write(data)

    def writelines(self, list_of_data: Iterable[Data]) -> None:
        self.write(b"".join(list_of_data))

    def _send_head(self) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head)

    def close(self) -> None:
        self._send_head()
        self._transport.close()

    def abort(self) -> None:
        self._head = None
        self._transport.abort()

    def write_eof(self) -> None:
        self._send_head()
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._head or b"")

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing through :class:`HeadWithBody`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(HeadWithBody(transport, self.loop))
