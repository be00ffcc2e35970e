"""Serve prepared requests in-process: the adapter's ASGI app called directly, no server.

Run by :mod:`tests.bench.instructions` under callgrind, as a file, so that it imports the
adapter of the tree it is given rather than this checkout's:
``python tests/bench/inprocess.py TREE CONFIG PATH REQUESTS COUNT``. The requests go to PATH
eight at a time, as from eight connections, and every answer must be HTTP 200; the loop then
waits until the outbox has delivered every URLNotify they queued. With COUNT 0 it only starts
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
CONNECTIONS = 8
_PENDING = "SELECT count(*) FROM notifications WHERE status = 'pending'"


async def _serve(config: Path, path: str, requests: list[tuple[str, list[list[str]]]]) -> None:
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
    encoded = [
        (body.encode(), [(k.lower().encode(), v.encode()) for k, v in headers])
        for body, headers in requests
    ]
    for first in range(0, len(encoded), CONNECTIONS):
        batch = encoded[first : first + CONNECTIONS]
        await asyncio.gather(*(_post(app, path, body, headers) for body, headers in batch))
    if requests:
        await _delivered(app)
    await lifespan_events.put({"type": "lifespan.shutdown"})
    await lifespan


async def _delivered(app: Any) -> None:
    """Until no URLNotify is pending: the deliveries are part of what a request costs."""
    db = app.state.ctx.payments.db
    for _ in range(6000):
        if await db.read(lambda conn: conn.exec_driver_sql(_PENDING).scalar()) == 0:
            return
        await asyncio.sleep(0.01)
    raise SystemExit("URLNotify deliveries still pending after a minute")


async def _post(app: Any, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    scope: Message = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
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
        raise SystemExit(f"{path} answered HTTP {sent[0]['status']}")


def main() -> None:
    tree, config, path, requests, count = sys.argv[1:6]
    sys.path.insert(0, tree)
    prepared = json.loads(Path(requests).read_text())[: int(count)]
    asyncio.run(_serve(Path(config), path, prepared))


if __name__ == "__main__":
    main()
