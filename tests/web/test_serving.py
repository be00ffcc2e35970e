"""An answer's head leaves with its body in one write, and never waits past the loop's turn."""

from __future__ import annotations

import asyncio
import socket

from starlette.types import Receive, Scope, Send

from adapter.web.serving import HeadWithBody
from tests.support.servers import serve

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"


class Recorder(asyncio.Transport):
    """The socket's side of the transport: what was written, in calls, and whether it closed."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True


def _over_recorder() -> tuple[HeadWithBody, Recorder]:
    """A held-head transport on the running loop, over a recorder of what reaches the socket."""
    recorder = Recorder()
    return HeadWithBody(recorder, asyncio.get_running_loop()), recorder


async def test_a_head_and_the_body_after_it_go_out_in_one_write() -> None:
    transport, recorder = _over_recorder()
    transport.write(HEAD)
    transport.write(b"hello")
    assert recorder.writes == [HEAD + b"hello"]


async def test_a_head_with_no_body_after_it_goes_out_when_the_loop_turn_ends() -> None:
    transport, recorder = _over_recorder()
    transport.write(HEAD)  # an answer to HEAD, or an app that waits before its body
    assert recorder.writes == []
    await asyncio.sleep(0)
    assert recorder.writes == [HEAD]
    transport.write(b"hello")
    assert recorder.writes == [HEAD, b"hello"]


async def test_closing_sends_a_held_head_before_the_connection_closes() -> None:
    transport, recorder = _over_recorder()
    transport.write(HEAD)
    transport.close()
    assert (recorder.writes, recorder.closed) == ([HEAD], True)


async def test_writes_that_are_not_a_head_go_out_at_once_and_in_order() -> None:
    transport, recorder = _over_recorder()
    transport.write(b"5\r\nhello\r\n")
    transport.writelines([b"0\r\n", b"\r\n"])
    assert recorder.writes == [b"5\r\nhello\r\n", b"0\r\n\r\n"]


async def echo_path(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await receive()
    body = scope["path"].encode()
    length = (b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": 200, "headers": [length]})
    await send({"type": "http.response.body", "body": body})


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def _read_answers(sock: socket.socket, *with_bodies: bool) -> list[bytes]:
    """Whole answers read from ``sock``, one per flag: with its content-length of body or none."""
    data = b""
    answers: list[bytes] = []
    while len(answers) < len(with_bodies):
        head_end = data.find(b"\r\n\r\n") + 4
        if head_end >= 4:
            lengths = [
                int(line.split(b":")[1])
                for line in data[:head_end].lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            ]
            end = head_end + (lengths[0] if with_bodies[len(answers)] else 0)
            if len(data) >= end:
                answers.append(data[:end])
                data = data[end:]
                continue
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection before answering"
        data += chunk
    return answers


def test_pipelined_requests_get_whole_answers_in_order_on_one_connection() -> None:
    with serve(echo_path) as url, _connect(url) as sock:
        sock.sendall(
            b"GET /first HTTP/1.1\r\nhost: x\r\n\r\nGET /second HTTP/1.1\r\nhost: x\r\n\r\n"
        )
        first, second = _read_answers(sock, True, True)
    assert first.startswith(b"HTTP/1.1 200 OK\r\n")
    assert first.endswith(b"\r\n\r\n/first")
    assert second.endswith(b"\r\n\r\n/second")


def test_an_answer_to_head_arrives_without_a_body_to_carry_it() -> None:
    # Kept alive for longer than the read waits: only the end of the loop's turn sends the head.
    with serve(echo_path, keep_alive_seconds=120) as url, _connect(url) as sock:
        sock.sendall(b"HEAD /head HTTP/1.1\r\nhost: x\r\n\r\n")
        (head,) = _read_answers(sock, False)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 5" in head


def test_a_request_uvicorn_cannot_parse_gets_its_400_before_the_connection_closes() -> None:
    with serve(echo_path, keep_alive_seconds=120) as url, _connect(url) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):  # until the server closes the connection
            received += chunk
    assert received.startswith(b"HTTP/1.1 400 ")
    assert received.endswith(b"Invalid HTTP request received.")
