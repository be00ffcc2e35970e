from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapter.alipayplus.client import AlipayPlusClient, ClientSettings
from adapter.alipayplus.messages import (
    PayMerchant,
    PayOrder,
    build_pay_body,
    encode_body,
)
from adapter.alipayplus.models import Amount, Api, Reply
from adapter.errors import UpstreamUnknown
from tests.alipayplus import independent
from tests.alipayplus.fake import CLIENT_ID, GATEWAY, Answer, FakeAlipayPlus, result_body

NOW = datetime(2025, 2, 20, 8, 51, 49, 123456, tzinfo=UTC)

ORDER = PayOrder(
    payment_request_id="pr-1",
    reference_order_id="order-1",
    order_description="Zwei Bücher",
    amount=Amount("EUR", 1250),
    merchant=PayMerchant(reference_merchant_id="m-1", mcc="5732", name="Shop", region="DE"),
    terminal_type="WEB",
    redirect_url="https://adapter.example/return/t",
    notify_url="https://adapter.example/alipayplus/notify",
)


def settings(acqp_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey) -> ClientSettings:
    return ClientSettings(
        gateway_url=GATEWAY,
        client_id=CLIENT_ID,
        private_key=acqp_key,
        alipay_public_key=alipay_key.public_key(),
    )


@pytest.fixture
def fake(acqp_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey) -> FakeAlipayPlus:
    return FakeAlipayPlus(acqp_public_key=acqp_key.public_key(), alipay_key=alipay_key)


@pytest.fixture
async def client(
    fake: FakeAlipayPlus, acqp_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey
) -> AsyncIterator[AlipayPlusClient]:
    async with AlipayPlusClient(
        settings(acqp_key, alipay_key), transport=fake.transport(), clock=lambda: NOW
    ) as c:
        yield c


async def pay(client: AlipayPlusClient) -> Reply:
    return await client.pay(ORDER)


# --- the request ---------------------------------------------------------------------------


async def test_request_is_posted_to_gateway_plus_api_path(
    client: AlipayPlusClient, fake: FakeAlipayPlus
) -> None:
    await pay(client)
    request = fake.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"{GATEWAY}/aps/api/v1/payments/pay"


async def test_trailing_slash_in_gateway_url_does_not_double_the_slash(
    fake: FakeAlipayPlus, acqp_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey
) -> None:
    s = settings(acqp_key, alipay_key)
    s = ClientSettings(s.gateway_url + "/", s.client_id, s.private_key, s.alipay_public_key)
    async with AlipayPlusClient(s, transport=fake.transport()) as c:
        await c.inquiry_payment("pr-1")
    assert fake.requests[0].url.path == "/aps/api/v1/payments/inquiryPayment"


async def test_request_carries_client_id_request_time_signature_and_json_type(
    client: AlipayPlusClient, fake: FakeAlipayPlus
) -> None:
    await pay(client)
    headers = fake.requests[0].headers
    assert headers["Client-Id"] == CLIENT_ID
    assert headers["Request-Time"] == "2025-02-20T08:51:49+00:00"  # from the injected clock
    assert headers["Signature"].startswith("algorithm=RSA256,keyVersion=1,signature=")
    assert headers["Content-Type"] == "application/json; charset=UTF-8"


async def test_request_body_is_the_compact_encoding_of_the_pay_body(
    client: AlipayPlusClient, fake: FakeAlipayPlus
) -> None:
    await pay(client)
    assert fake.requests[0].content == encode_body(build_pay_body(ORDER))


async def test_request_signature_verifies_over_the_exact_bytes_sent(
    client: AlipayPlusClient, fake: FakeAlipayPlus
) -> None:
    await pay(client)
    assert fake.request_signature_ok == [True]


@pytest.mark.parametrize(
    "part",
    ["method", "uri", "client_id", "time", "body"],
)
async def test_request_signature_fails_once_any_signed_part_is_tampered(
    client: AlipayPlusClient, fake: FakeAlipayPlus, acqp_key: rsa.RSAPrivateKey, part: str
) -> None:
    await pay(client)
    request = fake.requests[0]
    pieces: dict[str, str | bytes] = {
        "method": "POST",
        "uri": request.url.path,
        "client_id": request.headers["client-id"],
        "time": request.headers["request-time"],
        "body": request.content,
    }
    tampered: dict[str, str | bytes] = {
        "method": "PUT",
        "uri": "/aps/api/v1/payments/refund",
        "client_id": CLIENT_ID + "X",
        "time": "2025-02-20T08:51:48+00:00",
        "body": request.content.replace(b"1250", b"1251"),
    }
    assert tampered[part] != pieces[part]
    pieces[part] = tampered[part]
    method, uri, client_id, stamp, body = pieces.values()
    assert isinstance(body, bytes)
    data = independent.content(str(method), str(uri), str(client_id), str(stamp), body)
    assert not independent.verify(acqp_key.public_key(), data, request.headers["signature"])


Call = Callable[[AlipayPlusClient], Awaitable[Reply]]

CALLS: list[tuple[Api, Call, float]] = [
    (Api.PAY, pay, 8.0),
    (Api.INQUIRY_PAYMENT, lambda c: c.inquiry_payment("pr-1"), 5.0),
    (Api.CANCEL_PAYMENT, lambda c: c.cancel_payment("pr-1"), 8.0),
    (Api.REFUND, lambda c: c.refund("pr-1", "rf-1", Amount("EUR", 100)), 8.0),
]


@pytest.mark.parametrize(("api", "call", "seconds"), CALLS, ids=[a.value for a, _, _ in CALLS])
async def test_each_api_goes_to_its_path_with_its_recommended_timeout(
    client: AlipayPlusClient, fake: FakeAlipayPlus, api: Api, call: Call, seconds: float
) -> None:
    reply = await call(client)
    request = fake.requests[0]
    assert reply.api is api
    assert request.url.path == api.path
    assert request.extensions["timeout"] == dict.fromkeys(
        ("connect", "read", "write", "pool"), seconds
    )


async def test_explicit_timeout_overrides_the_api_default(
    client: AlipayPlusClient, fake: FakeAlipayPlus
) -> None:
    await client.pay(ORDER, timeout=2.5)
    assert fake.requests[0].extensions["timeout"]["read"] == 2.5


async def test_an_operator_timeout_cap_shortens_every_call(
    fake: FakeAlipayPlus, acqp_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey
) -> None:
    capped = dataclasses.replace(settings(acqp_key, alipay_key), timeout_cap=1.5)
    async with AlipayPlusClient(capped, transport=fake.transport(), clock=lambda: NOW) as c:
        await c.pay(ORDER)
        await c.pay(ORDER, timeout=0.5)
    assert [r.extensions["timeout"]["read"] for r in fake.requests] == [1.5, 0.5]


async def test_convenience_calls_send_the_documented_bodies(
    client: AlipayPlusClient, fake: FakeAlipayPlus
) -> None:
    await client.inquiry_payment("pr-1")
    await client.cancel_payment("pr-2")
    await client.refund("pr-3", "rf-3", Amount("JPY", 100), "damaged")
    bodies = [json.loads(r.content) for r in fake.requests]
    assert bodies == [
        {"paymentRequestId": "pr-1"},
        {"paymentRequestId": "pr-2"},
        {
            "paymentRequestId": "pr-3",
            "refundRequestId": "rf-3",
            "refundAmount": {"currency": "JPY", "value": "100"},
            "refundReason": "damaged",
        },
    ]


# --- answers that are accepted -------------------------------------------------------------


async def test_signed_answer_is_returned_with_its_exact_raw_bytes(
    client: AlipayPlusClient, fake: FakeAlipayPlus
) -> None:
    # Pretty-printed like the official SDK's: verification must use the raw bytes.
    body = json.dumps(
        {
            "result": {
                "resultCode": "PAYMENT_IN_PROCESS",
                "resultStatus": "U",
                "resultMessage": "",
            },
            "paymentId": "2020",
            "normalUrl": "https://checkout.example/p",
        },
        indent=3,
    ).encode()
    fake.answer = Answer(body=body)
    reply = await pay(client)
    assert reply.raw == body
    assert reply.result.code == "PAYMENT_IN_PROCESS"
    assert reply.body["paymentId"] == "2020"


@pytest.mark.parametrize(
    "names",
    [
        ("client-id", "response-time", "signature"),
        ("Client-Id", "Response-Time", "Signature"),
        ("CLIENT-ID", "response-TIME", "SiGnAtUrE"),
    ],
)
async def test_answer_header_names_are_read_in_any_case(
    client: AlipayPlusClient, fake: FakeAlipayPlus, names: tuple[str, str, str]
) -> None:
    fake.answer = Answer(names=names)
    assert (await pay(client)).result.status == "S"


async def test_answer_signature_with_lowercase_escapes_verifies(
    client: AlipayPlusClient, fake: FakeAlipayPlus
) -> None:
    fake.answer = Answer(lowercase_escapes=True)
    assert (await pay(client)).result.status == "S"


@pytest.mark.parametrize(
    ("status", "code"), [("F", "INVALID_SIGNATURE"), ("U", "UNKNOWN_EXCEPTION")]
)
async def test_unsigned_failure_or_unknown_answer_is_accepted(
    client: AlipayPlusClient, fake: FakeAlipayPlus, status: str, code: str
) -> None:
    fake.answer = Answer(body=result_body(status, code), signed=False)
    reply = await pay(client)
    assert (reply.result.status, reply.result.code) == (status, code)


# --- answers whose outcome is unknown ------------------------------------------------------


async def assert_unknown(client: AlipayPlusClient) -> UpstreamUnknown:
    with pytest.raises(UpstreamUnknown) as info:
        await pay(client)
    assert info.value.reason
    return info.value


async def test_unsigned_success_answer_is_unknown(
    client: AlipayPlusClient, fake: FakeAlipayPlus
) -> None:
    fake.answer = Answer(signed=False)
    await assert_unknown(client)


async def test_answer_signed_by_an_untrusted_key_is_unknown(
    client: AlipayPlusClient, fake: FakeAlipayPlus, stranger_key: rsa.RSAPrivateKey
) -> None:
    fake.answer = Answer(signer=stranger_key)
    await assert_unknown(client)


async def test_answer_body_changed_after_signing_is_unknown(
    client: AlipayPlusClient, fake: FakeAlipayPlus
) -> None:
    fake.answer = Answer(
        body=result_body("S", "SUCCESS", paymentId="2"),
        signed_body=result_body("S", "SUCCESS", paymentId="1"),
    )
    await assert_unknown(client)


@pytest.mark.parametrize("status", ["F", "U"])
@pytest.mark.parametrize(
    "omit", [frozenset({"response-time"}), frozenset({"signature"}), frozenset({"client-id"})]
)
async def test_half_signed_answer_is_unknown_even_for_f_or_u(
    client: AlipayPlusClient, fake: FakeAlipayPlus, omit: frozenset[str], status: str
) -> None:
    fake.answer = Answer(body=result_body(status, "PROCESS_FAIL"), omit=omit)
    await assert_unknown(client)


async def test_answer_signed_for_another_client_id_is_unknown(
    client: AlipayPlusClient, fake: FakeAlipayPlus
) -> None:
    fake.answer = Answer(client_id="SOMEONE_ELSE")
    await assert_unknown(client)


@pytest.mark.parametrize("status_code", [500, 502, 302, 204])
async def test_non_200_http_status_is_unknown(
    client: AlipayPlusClient, fake: FakeAlipayPlus, status_code: int
) -> None:
    # With a Location, so that a client following redirects would be caught re-posting.
    location = (("location", f"{GATEWAY}/aps/api/v1/payments/pay"),)
    fake.answer = Answer(status_code=status_code, extra_headers=location)
    error = await assert_unknown(client)
    assert str(status_code) in error.reason
    assert len(fake.requests) == 1  # neither a redirect follow nor a retry


@pytest.mark.parametrize(
    "body", [b"<html>busy</html>", b"", b"[]", b'{"paymentId":"1"}', b'{"result":{}}']
)
async def test_200_without_a_readable_result_is_unknown(
    client: AlipayPlusClient, fake: FakeAlipayPlus, body: bytes
) -> None:
    fake.answer = Answer(body=body, signed=False)
    await assert_unknown(client)


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow"),
        httpx.RemoteProtocolError("reset"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_transport_errors_are_unknown_and_not_retried(
    client: AlipayPlusClient, fake: FakeAlipayPlus, error: Exception
) -> None:
    fake.answer = error
    await assert_unknown(client)
    assert len(fake.requests) == 1


STALL_SECONDS = 60.0


async def test_whole_exchange_is_bounded_by_the_timeout(
    fake: FakeAlipayPlus, acqp_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey
) -> None:
    # httpx's own timeouts are per phase; a gateway that dribbles must still not hold us.
    async def stall(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(STALL_SECONDS)
        return httpx.Response(200, content=result_body("F", "PROCESS_FAIL"))  # acceptable if late

    transport = httpx.MockTransport(stall)
    loop = asyncio.get_running_loop()
    async with AlipayPlusClient(settings(acqp_key, alipay_key), transport=transport) as c:
        started = loop.time()
        with pytest.raises(UpstreamUnknown):
            await c.pay(ORDER, timeout=0.05)
        # Given up long before the answer: no bound on speed, so a busy machine passes too.
        assert loop.time() - started < STALL_SECONDS / 2


# --- lifecycle and settings -----------------------------------------------------------------


class ClosingTransport(httpx.AsyncBaseTransport):
    closed = False

    async def aclose(self) -> None:
        self.closed = True


async def test_leaving_the_context_closes_the_transport(
    acqp_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey
) -> None:
    transport = ClosingTransport()
    async with AlipayPlusClient(settings(acqp_key, alipay_key), transport=transport):
        assert not transport.closed
    assert transport.closed


def test_settings_repr_shows_no_key_material(
    acqp_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey
) -> None:
    text = repr(settings(acqp_key, alipay_key))
    assert CLIENT_ID in text
    assert "private_key" not in text
    assert str(acqp_key.private_numbers().d)[:20] not in text
