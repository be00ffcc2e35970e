"""Serve prepared inquiries in-process: the adapter's ASGI app called directly, no server.

Run by :mod:`tests.bench.instructions` under callgrind, as a file, so that it imports the
adapter of the tree it is given rather than this checkout's:
``python tests/bench/inprocess.py TREE CONFIG REQUESTS COUNT``. With COUNT 0 it only starts
the app (which migrates its database) and stops.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

Message = dict[str, Any]


async def _serve(config: Path, requests: list[tuple[str, list[list[str]]]]) -> None:
    from adapter.config import load_settings
    from adapter.mapping import load_mapping
    from adapter.observability.logs import configure_logging
    from adapter.web.app import create_app

    configure_logging("json", "INFO")
    app = create_app(load_settings(str(config)), load_mapping(None))
    started: asyncio.Queue[Message] = asyncio.Queue()
    lifespan_events: asyncio.Queue[Message] = asyncio.Queue()
    await lifespan_events.put({"type": "lifespan.startup"})
    scope: Message = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}

    async def lifespan_send(message: MutableMapping[str, Any]) -> None:
        await started.put(dict(message))

    lifespan = asyncio.create_task(app(scope, lifespan_events.get, lifespan_send))
    assert (await started.get())["type"] == "lifespan.startup.complete"
    for body, headers in requests:
        await _inquire(app, body.encode(), [(k.lower().encode(), v.encode()) for k, v in headers])
    await lifespan_events.put({"type": "lifespan.shutdown"})
    await lifespan


async def _inquire(app: Any, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    scope: Message = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/inquire.aspx",
        "raw_path": b"/inquire.aspx",
        "query_string": b"",
        "root_path": "",
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    if sent[0]["status"] != 200:
        raise SystemExit(f"inquire answered HTTP {sent[0]['status']}")


def main() -> None:
    tree, config, requests, count = sys.argv[1:5]
    sys.path.insert(0, tree)
    prepared = json.loads(Path(requests).read_text())[: int(count)]
    asyncio.run(_serve(Path(config), prepared))


if __name__ == "__main__":
    main()
