"""Alipay+'s notifyPayment answered without Starlette's routing, ``Request`` or ``Response``.

It runs once for every payment Alipay+ settles, and needs nothing of them: a signed JSON body
in, a signed JSON answer out (``adapter.web.plain`` serves it).
"""

from __future__ import annotations

from starlette.types import Receive, Scope

from adapter.core.context import Context
from adapter.core.notify import error_body, handle_notification
from adapter.paygate.errors import PaygateError
from adapter.web.params import BodyTooLarge, read_body

NOTIFY_PATH = "/alipayplus/notify"
MAX_NOTIFY_BYTES = 65536
_JSON = (b"content-type", b"application/json")

Header = tuple[bytes, bytes]


def _headers(scope: Scope) -> dict[str, str]:
    # Lower-case names, the first of repeated ones: what Starlette's Headers would give.
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in reversed(scope["headers"])
    }


async def answer_notification(
    ctx: Context, scope: Scope, receive: Receive
) -> tuple[int, bytes, list[Header]]:
    """The HTTP status, body and headers of the answer to one notifyPayment."""
    try:
        body = await read_body(scope, receive, MAX_NOTIFY_BYTES)
    except PaygateError as error:
        too_large = isinstance(error, BodyTooLarge)
        refusal = error_body("PARAM_ILLEGAL", "too large" if too_large else "incomplete")
        return (413 if too_large else 400), refusal, [_JSON]
    answer = await handle_notification(ctx, uri=ctx.notify_path, headers=_headers(scope), body=body)
    # The signed headers name the content type too.
    signed = [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers.items()
    ]
    return 200, answer.body, signed
