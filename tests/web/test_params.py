"""Reading a Paygate request's outer parameters: query and form body, whatever bytes they hold."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.types import Message

from adapter.paygate.errors import PaygateError
from adapter.web.params import BodyTooLarge, read_params

FORM = b"application/x-www-form-urlencoded"


def _request(method: str, query: bytes, body: bytes = b"", content_type: bytes = FORM) -> Request:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "method": method, "path": "/inquire.aspx", "query_string": query}
    return Request({**scope, "headers": headers}, receive)


async def test_query_and_form_are_read_together_and_the_body_wins() -> None:
    request = _request("POST", b"MerchantID=Q&Len=12", b"MerchantID=Shop&Data=AB%20CD")
    fields = await read_params(request, 1000)
    assert (fields["MerchantID"], fields["Len"], fields["Data"]) == ("Shop", "12", "AB CD")


async def test_a_get_reads_only_the_query() -> None:
    fields = await read_params(_request("GET", b"MerchantID=Shop&Data=%41B"), 1000)
    assert (len(fields), fields["MerchantID"], fields["Data"]) == (2, "Shop", "AB")


@pytest.mark.parametrize("query", [b"MerchantID=Sh\xffop&Len=1", b"MerchantID=%FF\xfe&Len=1"])
async def test_bytes_that_are_not_utf8_in_the_query_are_read_not_raised(query: bytes) -> None:
    fields = await read_params(_request("GET", query), 1000)
    assert fields["Len"] == "1"
    assert fields["MerchantID"] != ""


async def test_a_body_over_the_limit_is_refused() -> None:
    with pytest.raises(BodyTooLarge):
        await read_params(_request("POST", b"", b"Data=" + b"A" * 100), 50)


async def test_a_multipart_form_is_refused_with_a_paygate_error() -> None:
    request = _request("POST", b"", b"--x--", content_type=b"multipart/form-data; boundary=x")
    with pytest.raises(PaygateError, match="x-www-form-urlencoded"):
        await read_params(request, 1000)
