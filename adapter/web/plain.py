"""The hot paths served on plain ASGI: the four server-to-server calls and Alipay+'s notify.

reverse.aspx, credit.aspx, capture.aspx and inquire.aspx are the shops' server-to-server calls,
inquire the most frequent of all; notifyPayment comes once for every payment Alipay+ settles.
Starlette's routing, its ``Request`` and ``Response`` objects and its exception layer cost about
as much as the whole floor of an inquiry (docs/performance.md#known-traps), and these endpoints
need none of them: one exact path each, a body in, one answer out. Every other path goes on to
the Starlette app; the middlewares outside (request id, case-insensitive paths, journal unit)
and Starlette's 500 page for an unexpected error apply to both alike.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from adapter.core.context import Context
from adapter.core.s2s import handle_operation, plain_error
from adapter.paygate.errors import PaygateError
from adapter.paygate.operations import Endpoint
from adapter.web.notify import NOTIFY_PATH, Header, answer_notification
from adapter.web.params import read_params

_ENDPOINTS = {f"/{endpoint.value}.aspx": endpoint for endpoint in Endpoint}
_OPERATION_METHODS = (b"GET, HEAD, POST", frozenset({"GET", "HEAD", "POST"}))
_NOTIFY_METHODS = (b"POST", frozenset({"POST"}))
_TEXT = (b"content-type", b"text/plain; charset=utf-8")


async def _send(send: Send, status: int, body: bytes, headers: list[Header]) -> None:
    lines = [(b"content-length", str(len(body)).encode("ascii")), *headers]
    await send({"type": "http.response.start", "status": status, "headers": lines})
    await send({"type": "http.response.body", "body": body})


async def _operation(ctx: Context, endpoint: Endpoint, scope: Scope, receive: Receive) -> bytes:
    """The answer to a server-to-server call: ``text/plain``, always HTTP 200."""
    try:
        outer = await read_params(scope, receive, ctx.settings.max_body_bytes)
    except PaygateError as error:
        return plain_error(ctx, "", error).encode("utf-8")
    return (await handle_operation(ctx, endpoint, outer)).encode("utf-8")


class PlainEndpoints:
    """Answers the S2S paths and the notify path itself; passes every other request to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else None
        endpoint = _ENDPOINTS.get(path) if path else None
        if endpoint is None and path != NOTIFY_PATH:
            await self.app(scope, receive, send)
            return
        allowed, methods = _OPERATION_METHODS if endpoint is not None else _NOTIFY_METHODS
        if scope["method"] not in methods:
            headers = [_TEXT, (b"allow", allowed)]
            await _send(send, 405, b"Method Not Allowed", headers)
            return
        ctx: Context = scope["app"].state.ctx
        if endpoint is not None:
            await _send(send, 200, await _operation(ctx, endpoint, scope, receive), [_TEXT])
        else:
            await _send(send, *await answer_notification(ctx, scope, receive))
