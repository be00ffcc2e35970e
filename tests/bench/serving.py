"""How every server of the benchmark runs: one uvicorn worker, uvloop, httptools, no access log.

The adapter's own ``serve`` command picks the same (uvicorn's ``auto`` chooses uvloop and
httptools when installed), so both sides of a comparison run on the same server stack.
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
