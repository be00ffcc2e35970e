"""How every server of the benchmark runs: one uvicorn worker, uvloop, httptools, no access log.

The adapter's own ``serve`` command runs the same stack, but with uvicorn's httptools protocol
sending an answer's head and body in one write (``adapter.web.serving``): that is the adapter's
own work, as skipping Starlette's routing is, and the floor keeps stock uvicorn.
"""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp


def serve_forever(app: ASGIApp, port: int) -> None:
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        workers=1,
        log_level="warning",
        access_log=False,
    )
