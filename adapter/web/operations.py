"""reverse.aspx, credit.aspx, capture.aspx and inquire.aspx served on plain ASGI.

These are the shops' server-to-server calls, inquire the most frequent of all. Starlette's
routing, its ``Request`` and ``Response`` objects and its exception layer cost about as much as
the whole floor of an inquiry (docs/performance.md#known-traps), and these endpoints need none
of them: one exact path each, a form in, ``text/plain`` out, always HTTP 200. Every other path
goes on to the Starlette app; the middlewares outside (request id, case-insensitive paths,
journal unit) and Starlette's 500 page for an unexpected error apply to both alike.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from adapter.core.context import Context
from adapter.core.s2s import handle_operation, plain_error
from adapter.paygate.errors import PaygateError
from adapter.paygate.operations import Endpoint
from adapter.web.params import read_params

_ENDPOINTS = {f"/{endpoint.value}.aspx": endpoint for endpoint in Endpoint}
_ANSWERED = frozenset({"GET", "HEAD", "POST"})
_TEXT = (b"content-type", b"text/plain; charset=utf-8")


async def _send_text(send: Send, status: int, body: bytes, *extra: tuple[bytes, bytes]) -> None:
    headers = [(b"content-length", str(len(body)).encode("ascii")), _TEXT, *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class OperationEndpoints:
    """Answers the four S2S paths itself; passes every other request to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = _ENDPOINTS.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in _ANSWERED:
            allowed = (b"allow", b"GET, HEAD, POST")
            await _send_text(send, 405, b"Method Not Allowed", allowed)
            return
        ctx: Context = scope["app"].state.ctx
        try:
            outer = await read_params(scope, receive, ctx.settings.max_body_bytes)
        except PaygateError as error:
            body = plain_error(ctx, "", error)
        else:
            body = await handle_operation(ctx, endpoint, outer)
        await _send_text(send, 200, body.encode("utf-8"))
