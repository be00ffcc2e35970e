"""The fake Alipay+ keeps the ledger the benchmark checks against, refusing what Alipay+ refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from adapter.alipayplus.messages import encode_body
from adapter.alipayplus.signing import signed_headers, verify_message
from tests.bench.fake_alipay import Ledger, create_fake_alipay
from tests.bench.world import CLIENT_ID, World
from tests.support.servers import serve

CHECKOUT = "http://alipay.test/checkout/"


def _refund(refund_id: str, value: int, payment: str = "P1") -> dict[str, Any]:
    return {
        "paymentRequestId": payment,
        "refundRequestId": refund_id,
        "refundAmount": {"currency": "EUR", "value": str(value)},
    }


def _paid_ledger() -> Ledger:
    ledger = Ledger(CHECKOUT)
    ledger.seed("P1", 100, "EUR", "SUCCESS")
    return ledger


def test_refunds_never_exceed_the_payment() -> None:
    ledger = _paid_ledger()
    assert ledger.refund(_refund("R1", 60))["result"]["resultStatus"] == "S"
    refused = ledger.refund(_refund("R2", 41))["result"]
    assert (refused["resultCode"], refused["resultStatus"]) == ("REFUND_AMOUNT_EXCEED", "F")
    assert ledger.view(["P1"])["P1"] == {
        "state": "SUCCESS",
        "amount": 100,
        "refunded": 60,
        "refunds": 1,
    }


def test_a_repeated_refund_id_answers_the_first_answer_and_counts_once() -> None:
    ledger = _paid_ledger()
    first = ledger.refund(_refund("R1", 10))
    assert ledger.refund(_refund("R1", 10)) == first
    assert ledger.refund(_refund("R1", 11))["result"]["resultCode"] == "REPEAT_REQ_INCONSISTENT"
    assert ledger.counts()["refunded"] == 10


def test_a_payment_with_refunds_cannot_be_cancelled() -> None:
    ledger = _paid_ledger()
    ledger.refund(_refund("R1", 10))
    assert ledger.cancel({"paymentRequestId": "P1"})["result"]["resultCode"] == "PROCESS_FAIL"
    ledger.seed("P2", 100, "EUR", "SUCCESS")
    assert ledger.cancel({"paymentRequestId": "P2"})["result"]["resultStatus"] == "S"
    assert ledger.counts()["CANCELLED"] == 1


def test_pay_opens_an_order_with_a_checkout_page_once() -> None:
    ledger = Ledger(CHECKOUT)
    body = {"paymentRequestId": "P9", "paymentAmount": {"currency": "EUR", "value": "500"}}
    first = ledger.pay(body)
    assert first["result"]["resultStatus"] == "U"
    assert first["normalUrl"].startswith(CHECKOUT)
    assert ledger.pay(body) == first
    assert ledger.counts()["PENDING"] == 1


def test_only_requests_signed_with_our_key_reach_the_ledger_and_answers_are_signed() -> None:
    world = World.create("http://127.0.0.1:1", "http://127.0.0.1:2")
    path = "/aps/api/v1/payments/pay"
    raw = encode_body(
        {"paymentRequestId": "P1", "paymentAmount": {"currency": "EUR", "value": "5"}}
    )

    def headers(key: Any) -> dict[str, str]:
        return signed_headers(
            uri=path,
            client_id=CLIENT_ID,
            body=raw,
            private_key=key,
            key_version="1",
            now=datetime.now(UTC),
            time_header="Request-Time",
        )

    with serve(create_fake_alipay(world)) as url, httpx.Client(base_url=url) as client:
        forged = client.post(path, content=raw, headers=headers(world.alipay_key))
        assert forged.json()["result"]["resultCode"] == "INVALID_SIGNATURE"
        assert client.get("/_fake/counts").json().get("PENDING", 0) == 0
        answer = client.post(path, content=raw, headers=headers(world.acqp_key))
        assert answer.json()["result"]["resultCode"] == "PAYMENT_IN_PROCESS"
        assert verify_message(
            uri=path,
            headers=answer.headers,
            body=answer.content,
            public_key=world.alipay_public_key,
            time_header="Response-Time",
        )
        assert client.get("/_fake/counts").json()["PENDING"] == 1
