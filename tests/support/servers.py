"""Real uvicorn servers on loopback for end-to-end tests, each on its own thread and loop."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from tests.support.waiting import wait_until

# Ports handed out by reserve_port, with their bound sockets, until serve() takes them.
_reserved: dict[int, socket.socket] = {}
_reserved_lock = threading.Lock()


def free_port() -> int:
    """A port free right now, for a server in another process (which must bind it itself)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def reserve_port() -> int:
    """A port kept bound until :func:`serve` listens on it.

    With :func:`free_port` the port is released before the server binds it, and an outgoing
    connection of the busy test process can take it as its local port in between.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    with _reserved_lock:
        _reserved[port] = sock
    return port


@contextmanager
def serve(app: ASGIApp, port: int | None = None) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1 and yield its base URL until the block ends.

    ``port`` must come from :func:`reserve_port`; without one a port is reserved here.
    """
    port = port or reserve_port()
    with _reserved_lock:
        sock = _reserved.pop(port)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
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
