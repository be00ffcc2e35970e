"""Reading a Paygate request's outer parameters from the query string or a form body.

These work on the ASGI scope and receive channel themselves, so the server-to-server endpoints,
which build no Starlette ``Request``, read exactly as the Starlette handlers do.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import Receive, Scope

from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.fields import Fields
from adapter.paygate.numbers import ascii_number


class BodyTooLarge(PaygateError):
    def __init__(self, limit: int) -> None:
        super().__init__(Category.TOO_LONG, "Request", f"the request is larger than {limit} bytes")


class BodyCutShort(PaygateError):
    def __init__(self) -> None:
        super().__init__(
            Category.FORMAT, "Request", "the request body ended before it was complete"
        )


def header(scope: Scope, name: bytes) -> str:
    """The first value of the header ``name`` (lower case), or ``""``."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes without reading the rest.

    A client that hangs up mid-body gets :class:`BodyCutShort` like any bad request, instead of
    an unhandled exception and its traceback in the log for every such client.
    """
    declared = header(scope, b"content-length")
    if declared.isascii() and declared.isdigit():
        size = ascii_number(declared, max_digits=len(str(limit)))
        if size is None or size > limit:
            raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise BodyCutShort()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parse(text: str) -> list[tuple[str, str]]:
    # Outer parameters are hex, digits and ids; a stray non-UTF-8 byte must not raise.
    return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace")


async def read_params(scope: Scope, receive: Receive, limit: int) -> Fields:
    """Query parameters and form fields together; the body wins over the query."""
    # The raw query, as the body is read: decoding it as UTF-8 would raise on any other byte.
    query: bytes = scope["query_string"]
    pairs = _parse(query.decode("latin-1")) if query else []
    if scope["method"] == "POST":
        body = await read_body(scope, receive, limit)
        if header(scope, b"content-type").startswith("multipart/form-data"):
            raise PaygateError(
                Category.FORMAT, "Request", "send the form as application/x-www-form-urlencoded"
            )
        pairs += _parse(body.decode("latin-1"))
    return Fields(pairs)
