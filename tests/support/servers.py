"""Real uvicorn servers on loopback for end-to-end tests, each on its own thread and loop."""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from adapter.web.serving import CoalescingHttpToolsProtocol
from tests.support.waiting import wait_until

# Ports handed out by reserve_port, with their bound sockets, until serve() takes them.
_reserved: dict[int, socket.socket] = {}
_reserved_lock = threading.Lock()


def _ephemeral_ports() -> range:
    """The ports the kernel picks local ports of outgoing connections from."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    except (OSError, ValueError):
        low, high = "32768", "60999"  # Linux's default
    return range(int(low), int(high) + 1)


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive ports free right now, for servers in another process
    (which must bind them themselves).

    Taken below the ephemeral range: a port in it may become the local port of one of the many
    outgoing connections on a busy machine before the other process binds it.
    """
    below = _ephemeral_ports().start
    for _ in range(200):
        first = random.randrange(10_000, below - count)
        if all(_bindable(first + n) for n in range(count)):
            return first
    raise AssertionError(f"no {count} consecutive free ports below {below}")


def free_port() -> int:
    """One port as :func:`free_ports` finds it."""
    return free_ports(1)


def reserve_port() -> int:
    """A port kept bound until :func:`serve` listens on it.

    A port the kernel hands out is in the ephemeral range: released before the server binds it,
    an outgoing connection of the busy test process could take it as its local port meanwhile.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    with _reserved_lock:
        _reserved[port] = sock
    return port


@contextmanager
def serve(app: ASGIApp, port: int | None = None, *, keep_alive_seconds: int = 5) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1 and yield its base URL until the block ends.

    ``port`` must come from :func:`reserve_port`; without one a port is reserved here.
    """
    port = port or reserve_port()
    with _reserved_lock:
        sock = _reserved.pop(port)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=CoalescingHttpToolsProtocol,  # as the adapter serves (adapter.cli)
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_keep_alive=keep_alive_seconds,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()

    def started() -> bool:
        assert thread.is_alive() or server.started, f"the server on port {port} stopped"
        return server.started

    wait_until(started, timeout=60, message=f"the server on port {port} did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
