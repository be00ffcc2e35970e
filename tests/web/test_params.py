"""Reading a Paygate request's outer parameters: query and form body, whatever bytes they hold."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from starlette.types import Message, Receive, Scope

from adapter.paygate.errors import PaygateError
from adapter.web.params import BodyCutShort, BodyTooLarge, read_params

FORM = b"application/x-www-form-urlencoded"


def _messages(messages: Sequence[Message]) -> Receive:
    """The given messages in turn, then a disconnect, as a server hands them over."""
    pending = list(messages)

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    return receive


def _request(
    method: str,
    query: bytes,
    body: bytes = b"",
    content_type: bytes = FORM,
    chunks: Sequence[Message] | None = None,
) -> tuple[Scope, Receive]:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "method": method, "path": "/inquire.aspx", "query_string": query}
    sent = chunks if chunks is not None else [{"type": "http.request", "body": body}]
    return {**scope, "headers": headers}, _messages(sent)


async def test_query_and_form_are_read_together_and_the_body_wins() -> None:
    request = _request("POST", b"MerchantID=Q&Len=12", b"MerchantID=Shop&Data=AB%20CD")
    fields = await read_params(*request, 1000)
    assert (fields["MerchantID"], fields["Len"], fields["Data"]) == ("Shop", "12", "AB CD")


async def test_a_get_reads_only_the_query() -> None:
    fields = await read_params(*_request("GET", b"MerchantID=Shop&Data=%41B"), 1000)
    assert (len(fields), fields["MerchantID"], fields["Data"]) == (2, "Shop", "AB")


@pytest.mark.parametrize("query", [b"MerchantID=Sh\xffop&Len=1", b"MerchantID=%FF\xfe&Len=1"])
async def test_bytes_that_are_not_utf8_in_the_query_are_read_not_raised(query: bytes) -> None:
    fields = await read_params(*_request("GET", query), 1000)
    assert fields["Len"] == "1"
    assert fields["MerchantID"] != ""


async def test_a_body_over_the_limit_is_refused() -> None:
    with pytest.raises(BodyTooLarge):
        await read_params(*_request("POST", b"", b"Data=" + b"A" * 100), 50)


async def test_a_multipart_form_is_refused_with_a_paygate_error() -> None:
    request = _request("POST", b"", b"--x--", content_type=b"multipart/form-data; boundary=x")
    with pytest.raises(PaygateError, match="x-www-form-urlencoded"):
        await read_params(*request, 1000)


async def test_a_body_in_several_chunks_is_read_whole() -> None:
    chunks: list[Message] = [
        {"type": "http.request", "body": b"MerchantID=Sh", "more_body": True},
        {"type": "http.request", "body": b"op&Len=4", "more_body": False},
    ]
    fields = await read_params(*_request("POST", b"", b"x" * 21, chunks=chunks), 1000)
    assert (fields["MerchantID"], fields["Len"]) == ("Shop", "4")


async def test_chunks_past_the_limit_are_refused_even_without_a_content_length() -> None:
    scope, receive = _request(
        "POST", b"", chunks=[{"type": "http.request", "body": b"A" * 40, "more_body": True}] * 3
    )
    scope["headers"] = [(b"content-type", FORM)]
    with pytest.raises(BodyTooLarge):
        await read_params(scope, receive, 100)


async def test_a_client_that_hangs_up_mid_body_gets_a_paygate_error() -> None:
    chunks: list[Message] = [{"type": "http.request", "body": b"MerchantID=", "more_body": True}]
    with pytest.raises(BodyCutShort):
        await read_params(*_request("POST", b"", b"x" * 50, chunks=chunks), 1000)
