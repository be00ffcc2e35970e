"""refund: the refundable balance, windows and refundRequestId idempotency.

As docs/alipayplus.md#refund and docs/alipayplus.md#rules-per-api describe it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from tests.sandbox.harness import Acqp, Sim, pay_body, refund_body


async def test_a_refund_of_a_paid_payment_succeeds(acqp: Acqp, sim: Sim) -> None:
    await acqp.paid("p1")
    answer = await acqp.call("refund", refund_body("p1", "r1", "250"))
    assert answer["result"]["resultCode"] == "SUCCESS"
    assert answer["refundAmount"] == {"currency": "EUR", "value": "250"}
    assert answer["refundId"]
    assert datetime.fromisoformat(answer["refundTime"]).tzinfo is not None
    assert answer["acquirerId"] == "1022188000000000001"
    ledger = await sim.payment("p1")
    assert ledger["refunded"] == 250
    assert ledger["refunds"] == [
        {
            "refundRequestId": "r1",
            "refundId": answer["refundId"],
            "amount": 250,
            "status": "SUCCESS",
            "resultCode": "SUCCESS",
        }
    ]


async def test_partial_refunds_may_add_up_to_exactly_the_payment(acqp: Acqp, sim: Sim) -> None:
    await acqp.paid("p1")
    assert await acqp.code("refund", refund_body("p1", "r1", "600")) == "SUCCESS"
    assert await acqp.code("refund", refund_body("p1", "r2", "401")) == "REFUND_AMOUNT_EXCEED"
    assert await acqp.code("refund", refund_body("p1", "r3", "400")) == "SUCCESS"
    assert (await sim.payment("p1"))["refunded"] == 1000


async def test_a_refund_of_an_unpaid_payment_is_order_status_invalid(acqp: Acqp) -> None:
    await acqp.call("pay", pay_body("p1"))
    assert await acqp.code("refund", refund_body("p1", "r1")) == "ORDER_STATUS_INVALID"


async def test_a_refund_of_a_cancelled_payment_is_order_status_invalid(acqp: Acqp) -> None:
    await acqp.paid("p1")
    await acqp.call("cancelPayment", {"paymentRequestId": "p1"})
    assert await acqp.code("refund", refund_body("p1", "r1")) == "ORDER_STATUS_INVALID"


async def test_a_refund_in_another_currency_is_currency_not_support(acqp: Acqp) -> None:
    await acqp.paid("p1")
    code = await acqp.code("refund", refund_body("p1", "r1", currency="USD"))
    assert code == "CURRENCY_NOT_SUPPORT"


async def test_a_refund_after_365_days_is_refund_window_exceed(acqp: Acqp, sim: Sim) -> None:
    await acqp.paid("p1")
    await acqp.paid("p2")
    await sim.advance(365 * 86400 - 60)
    assert await acqp.code("refund", refund_body("p1", "r1")) == "SUCCESS"
    await sim.advance(120)
    assert await acqp.code("refund", refund_body("p2", "r2")) == "REFUND_WINDOW_EXCEED"


async def test_a_refund_of_an_unknown_payment_is_order_not_exist(acqp: Acqp) -> None:
    assert await acqp.code("refund", refund_body("nope", "r1")) == "ORDER_NOT_EXIST"


async def test_a_refund_without_refund_request_id_is_param_illegal(acqp: Acqp) -> None:
    body = refund_body("p1", "r1")
    del body["refundRequestId"]
    assert await acqp.code("refund", body) == "PARAM_ILLEGAL"


async def test_a_replayed_refund_returns_the_stored_refund(acqp: Acqp, sim: Sim) -> None:
    await acqp.paid("p1")
    first = await acqp.call("refund", refund_body("p1", "r1", "300"))
    again = await acqp.call("refund", refund_body("p1", "r1", "300"))
    assert again == first
    assert (await sim.payment("p1"))["refunded"] == 300


async def test_a_replay_by_payment_id_is_the_same_refund(acqp: Acqp) -> None:
    paid = await acqp.paid("p1")
    first = await acqp.call("refund", refund_body("p1", "r1"))
    body = refund_body("p1", "r1") | {"paymentId": paid["paymentId"]}
    del body["paymentRequestId"]
    assert await acqp.call("refund", body) == first


async def test_a_replayed_failure_stays_the_same_failure(acqp: Acqp, sim: Sim) -> None:
    await acqp.call("pay", pay_body("p1"))
    assert await acqp.code("refund", refund_body("p1", "r1")) == "ORDER_STATUS_INVALID"
    await sim.ok("POST", "/payments/p1/complete", {"status": "S"})
    assert await acqp.code("refund", refund_body("p1", "r1")) == "ORDER_STATUS_INVALID"
    assert await acqp.code("refund", refund_body("p1", "r2")) == "SUCCESS"


async def test_a_replay_with_another_amount_is_repeat_req_inconsistent(acqp: Acqp) -> None:
    await acqp.paid("p1")
    await acqp.call("refund", refund_body("p1", "r1", "10"))
    code = await acqp.code("refund", refund_body("p1", "r1", "11"))
    assert code == "REPEAT_REQ_INCONSISTENT"


async def test_a_replay_for_another_payment_is_repeat_req_inconsistent(acqp: Acqp) -> None:
    await acqp.paid("p1")
    await acqp.paid("p2")
    await acqp.call("refund", refund_body("p1", "r1"))
    assert await acqp.code("refund", refund_body("p2", "r1")) == "REPEAT_REQ_INCONSISTENT"
    assert await acqp.code("refund", refund_body("nope", "r1")) == "REPEAT_REQ_INCONSISTENT"


async def test_fifty_concurrent_refunds_never_exceed_the_payment(acqp: Acqp, sim: Sim) -> None:
    await acqp.paid("p1", value="100")
    codes = await asyncio.gather(
        *(acqp.code("refund", refund_body("p1", f"r{i}", "10")) for i in range(50))
    )
    assert codes.count("SUCCESS") == 10
    assert codes.count("REFUND_AMOUNT_EXCEED") == 40
    assert (await sim.payment("p1"))["refunded"] == 100
