"""cancelPayment: the T+1 00:15 China-time window and what cancel does.

As docs/alipayplus.md#cancelpayment and docs/alipayplus.md#rules-per-api describe it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.sandbox.conftest import StartSandbox
from tests.sandbox.harness import Acqp, Receiver, Sim, all_rounds_passed, pay_body, refund_body

CHINA = timezone(timedelta(hours=8))


async def test_cancelling_an_open_payment_closes_it(acqp: Acqp, sim: Sim) -> None:
    await acqp.call("pay", pay_body("p1"))
    answer = await acqp.call("cancelPayment", {"paymentRequestId": "p1"})
    assert answer["result"]["resultCode"] == "SUCCESS"
    assert answer["acquirerId"] == "1022188000000000001"
    ledger = await sim.payment("p1")
    assert (ledger["state"], ledger["cancelled"]) == ("CANCELLED", True)


async def test_cancel_works_by_payment_id(acqp: Acqp, sim: Sim) -> None:
    paid = await acqp.call("pay", pay_body("p1"))
    assert await acqp.code("cancelPayment", {"paymentId": paid["paymentId"]}) == "SUCCESS"
    assert (await sim.payment("p1"))["state"] == "CANCELLED"


async def test_cancelling_a_paid_payment_reverses_it_without_a_notification(
    acqp: Acqp, sim: Sim, receiver: Receiver
) -> None:
    await acqp.paid("p1")
    before = await sim.acked("p1")  # the sender is done with the payment's success
    answer = await acqp.call("cancelPayment", {"paymentRequestId": "p1"})
    assert answer["pspId"]
    assert (await sim.payment("p1"))["state"] == "CANCELLED"
    await all_rounds_passed(acqp, sim)  # a notification of the cancel would have come by now
    assert [a for a in await sim.attempts() if a["payment_request_id"] == "p1"] == before
    assert len(receiver.deliveries) == len(before)


async def test_a_repeated_cancel_gives_the_same_result(acqp: Acqp) -> None:
    await acqp.call("pay", pay_body("p1"))
    first = await acqp.call("cancelPayment", {"paymentRequestId": "p1"})
    assert await acqp.call("cancelPayment", {"paymentRequestId": "p1"}) == first


async def test_a_late_payment_after_cancel_stays_cancelled(acqp: Acqp, sim: Sim) -> None:
    await acqp.call("pay", pay_body("p1"))
    await acqp.call("cancelPayment", {"paymentRequestId": "p1"})
    late = await sim.request("POST", "/payments/p1/complete", {"status": "S"})
    assert late.status_code == 409
    ledger = await sim.payment("p1")
    assert (ledger["state"], ledger["paymentTime"]) == ("CANCELLED", None)
    assert await sim.attempts() == []


async def test_cancelling_an_expired_payment_succeeds_and_keeps_its_failure(
    acqp: Acqp, sim: Sim
) -> None:
    await acqp.call("pay", pay_body("p1"))
    await sim.advance(601)
    assert await acqp.code("cancelPayment", {"paymentRequestId": "p1"}) == "SUCCESS"
    ledger = await sim.payment("p1")
    assert (ledger["state"], ledger["resultCode"], ledger["cancelled"]) == (
        "FAIL",
        "ORDER_IS_CLOSED",
        True,
    )


async def test_an_unknown_payment_is_order_not_exist(acqp: Acqp) -> None:
    assert await acqp.code("cancelPayment", {"paymentRequestId": "nope"}) == "ORDER_NOT_EXIST"


async def test_a_payment_with_refunds_cannot_be_cancelled(acqp: Acqp, sim: Sim) -> None:
    await acqp.paid("p1")
    await acqp.call("refund", refund_body("p1", "r1"))
    assert await acqp.code("cancelPayment", {"paymentRequestId": "p1"}) == "PROCESS_FAIL"
    assert (await sim.payment("p1"))["state"] == "SUCCESS"


async def test_cancel_inside_the_window_succeeds_and_after_it_is_cancel_window_exceed(
    acqp: Acqp, sim: Sim
) -> None:
    await acqp.paid("early")
    await acqp.paid("late")
    created = datetime.fromisoformat((await sim.payment("early"))["created"])
    local = created.astimezone(CHINA)
    deadline = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), CHINA)
    deadline += timedelta(minutes=15)
    await sim.advance((deadline - created).total_seconds() - 30)
    assert await acqp.code("cancelPayment", {"paymentRequestId": "early"}) == "SUCCESS"
    await sim.advance(60)
    assert await acqp.code("cancelPayment", {"paymentRequestId": "late"}) == "CANCEL_WINDOW_EXCEED"
    assert await acqp.code("cancelPayment", {"paymentRequestId": "late"}) == "CANCEL_WINDOW_EXCEED"
    assert await acqp.code("cancelPayment", {"paymentRequestId": "early"}) == "SUCCESS"


async def test_the_window_ends_at_0015_china_time_not_24_hours_later(
    start_sandbox: StartSandbox,
) -> None:
    before_midnight = datetime(2025, 1, 1, 23, 50, tzinfo=CHINA)
    acqp, sim = start_sandbox(clock=lambda: before_midnight)
    await acqp.paid("on-time")
    await acqp.paid("too-late")
    await sim.advance(25 * 60)  # 00:15:00 is still inside
    assert await acqp.code("cancelPayment", {"paymentRequestId": "on-time"}) == "SUCCESS"
    await sim.advance(1)
    code = await acqp.code("cancelPayment", {"paymentRequestId": "too-late"})
    assert code == "CANCEL_WINDOW_EXCEED"
