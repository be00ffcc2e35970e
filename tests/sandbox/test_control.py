"""The /_sim/ control API itself: ledger, completion, call counts, clock and reset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.sandbox.conftest import CLIENT_ID, OTHER_CLIENT_ID, StartSandbox
from tests.sandbox.harness import Acqp, Receiver, Sim, pay_body, refund_body
from tests.support.waiting import wait_until_async


async def test_the_ledger_describes_the_payment(acqp: Acqp, sim: Sim) -> None:
    paid = await acqp.paid("p1", value="500", currency="JPY")
    await acqp.call("refund", refund_body("p1", "r1", "100", "JPY"))
    ledger = await sim.payment("p1")
    assert ledger["clientId"] == CLIENT_ID
    assert ledger["paymentId"] == paid["paymentId"]
    assert (ledger["state"], ledger["amount"], ledger["currency"]) == ("SUCCESS", 500, "JPY")
    assert (ledger["refunded"], ledger["cancelled"]) == (100, False)
    assert [r["refundRequestId"] for r in ledger["refunds"]] == ["r1"]
    assert datetime.fromisoformat(ledger["created"]) < datetime.fromisoformat(ledger["expires"])


async def test_an_unknown_payment_is_404(sim: Sim) -> None:
    assert (await sim.request("GET", "/payments/nope")).status_code == 404


async def test_an_id_used_by_two_clients_needs_a_client_id(acqp: Acqp, sim: Sim) -> None:
    await acqp.call("pay", pay_body("p1"))
    await acqp.call("pay", pay_body("p1", value="7"), client_id=OTHER_CLIENT_ID)
    assert (await sim.request("GET", "/payments/p1")).status_code == 409
    ledger = await sim.ok("GET", f"/payments/p1?client_id={OTHER_CLIENT_ID}")
    assert ledger["amount"] == 7


async def test_complete_with_f_fails_with_the_given_code(
    acqp: Acqp, sim: Sim, receiver: Receiver
) -> None:
    await acqp.call("pay", pay_body("p1"))
    ledger = await sim.ok("POST", "/payments/p1/complete", {"status": "F", "result_code": "X"})
    assert (ledger["state"], ledger["resultCode"]) == ("FAIL", "X")
    await sim.acked("p1")
    (delivery,) = receiver.deliveries
    assert delivery.body["paymentResult"]["resultCode"] == "X"


async def test_complete_without_a_valid_status_is_400(acqp: Acqp, sim: Sim) -> None:
    await acqp.call("pay", pay_body("p1"))
    assert (await sim.request("POST", "/payments/p1/complete", {"status": "Y"})).status_code == 400


async def test_calls_are_counted_per_api_and_request_id(acqp: Acqp, sim: Sim) -> None:
    await acqp.call("pay", pay_body("p1"))
    await acqp.call("pay", pay_body("p1"))
    await acqp.call("inquiryPayment", {"paymentRequestId": "p1"})
    await acqp.call("refund", refund_body("p1", "r1"))
    await acqp.call("pay", b"{broken")
    calls = await sim.ok("GET", "/calls")
    times = calls.pop("times")
    assert calls == {
        "by_api": {"pay": 3, "inquiryPayment": 1, "refund": 1},
        "by_request_id": {"p1": {"pay": 2, "inquiryPayment": 1}, "r1": {"refund": 1}},
    }
    assert {key: len(at) for key, at in times.items()} == {
        "pay p1": 2,
        "inquiryPayment p1": 1,
        "refund r1": 1,
    }
    assert times["pay p1"] == sorted(times["pay p1"])


async def test_the_clock_advance_moves_the_simulated_now(sim: Sim) -> None:
    before = await sim.advance(0)
    after = await sim.advance(3600)
    assert timedelta(seconds=3600) <= after - before < timedelta(seconds=3610)


async def test_a_negative_clock_advance_is_rejected(sim: Sim) -> None:
    response = await sim.request("POST", "/clock/advance", {"seconds": -1})
    assert response.status_code == 400


async def test_the_injected_clock_is_the_base_of_simulated_time(
    start_sandbox: StartSandbox,
) -> None:
    fixed = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    acqp, sim = start_sandbox(clock=lambda: fixed)
    assert await sim.advance(60) == fixed + timedelta(seconds=60)
    await acqp.call("pay", pay_body("p1"))
    assert (await sim.payment("p1"))["created"] == (fixed + timedelta(seconds=60)).isoformat()


async def test_an_abandoned_checkout_expires_and_notifies_without_any_access(
    start_sandbox: StartSandbox, receiver: Receiver
) -> None:
    now = [datetime(2030, 5, 1, 12, 0, tzinfo=UTC)]
    acqp, _ = start_sandbox(clock=lambda: now[0])
    await acqp.call("pay", pay_body("p1"))
    now[0] += timedelta(minutes=11)
    await wait_until_async(lambda: bool(receiver.deliveries))
    assert receiver.deliveries[0].body["paymentResult"]["resultCode"] == "ORDER_IS_CLOSED"


async def test_reset_forgets_payments_faults_calls_notifications_and_the_clock(
    acqp: Acqp, sim: Sim
) -> None:
    await acqp.paid("p1")
    await sim.fault(api="pay", mode="http_500")
    await sim.policy("withhold")
    before = await sim.advance(86400)
    await sim.ok("POST", "/reset")
    assert (await sim.request("GET", "/payments/p1")).status_code == 404
    assert await sim.ok("GET", "/calls") == {"by_api": {}, "by_request_id": {}, "times": {}}
    assert await sim.attempts() == []
    assert await sim.advance(0) < before
    assert await acqp.code("pay", pay_body("p1")) == "PAYMENT_IN_PROCESS"
    await sim.ok("POST", "/payments/p1/complete", {"status": "S"})
    await sim.acked("p1")
