"""notifyPayment: signed deliveries, strict acks, resends, the notify policy.

As docs/alipayplus.md#notification-sender describes them.
"""

from __future__ import annotations

import time

from tests.sandbox.conftest import CLIENT_ID, OTHER_CLIENT_ID, StartSandbox
from tests.sandbox.harness import Acqp, Receiver, Sim, all_rounds_passed, pay_body
from tests.support.waiting import wait_until_async


async def test_a_success_notification_carries_the_payment_and_a_valid_signature(
    acqp: Acqp, sim: Sim, receiver: Receiver
) -> None:
    paid = await acqp.paid("p1")
    assert [a["acked"] for a in await sim.acked("p1")] == [True]
    (delivery,) = receiver.deliveries
    assert delivery.verified
    assert delivery.path == "/acqp/notify"
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.headers["client-id"] == CLIENT_ID
    assert delivery.headers["signature"].startswith("algorithm=RSA256,keyVersion=1,signature=")
    body = delivery.body
    assert body["paymentResult"]["resultStatus"] == "S"
    assert body["paymentRequestId"] == "p1"
    assert body["paymentId"] == paid["paymentId"]
    assert body["acquirerId"] == "1022188000000000001"
    assert body["paymentAmount"] == {"currency": "EUR", "value": "1000"}
    assert body["walletBrandName"] == "ALIPAY_CN"
    assert {"pspId", "customerId", "paymentTime"} <= body.keys()


async def test_a_decline_notifies_the_failure_code(
    acqp: Acqp, sim: Sim, receiver: Receiver
) -> None:
    answer = await acqp.call("pay", pay_body("p1"))
    await acqp.http.post(answer["normalUrl"], data={"action": "decline"})
    await sim.acked("p1")
    (delivery,) = receiver.deliveries
    result = delivery.body["paymentResult"]
    assert (result["resultCode"], result["resultStatus"]) == (
        "USER_PAYMENT_VERIFICATION_FAILED",
        "F",
    )
    assert "customerId" not in delivery.body


async def test_expiry_notifies_the_failure(acqp: Acqp, sim: Sim, receiver: Receiver) -> None:
    await acqp.call("pay", pay_body("p1"))
    await sim.advance(601)
    await sim.acked("p1")
    (delivery,) = receiver.deliveries
    assert delivery.body["paymentResult"]["resultCode"] == "ORDER_IS_CLOSED"


async def test_the_pay_notify_url_wins_over_the_clients_default(
    acqp: Acqp, sim: Sim, receiver: Receiver
) -> None:
    await acqp.paid("p1", paymentNotifyUrl=f"{acqp.base_url}/nowhere")
    [first, *_] = await sim.attempts_until(lambda log: len(log) >= 1)
    assert first["url"] == f"{acqp.base_url}/nowhere"
    assert (first["status_code"], first["acked"]) == (404, False)
    assert receiver.deliveries == []


async def test_resends_follow_the_schedule_until_acked_then_stop(
    acqp: Acqp, sim: Sim, receiver: Receiver
) -> None:
    receiver.replies = ["http_500", "unsigned", "result_f"]
    await acqp.paid("p1")
    attempts = await sim.acked("p1")
    await all_rounds_passed(acqp, sim)  # any round after the ack would have come by now
    assert len(receiver.deliveries) == 4
    assert len({d.raw for d in receiver.deliveries}) == 1
    assert all(d.verified for d in receiver.deliveries)
    assert [a["acked"] for a in attempts] == [False, False, False, True]
    assert [a["status_code"] for a in attempts] == [500, 200, 200, 200]
    assert "signature" in attempts[1]["error"]
    assert "resultStatus" in attempts[2]["error"]


async def test_an_ack_that_is_never_signed_exhausts_the_schedule(
    acqp: Acqp, sim: Sim, receiver: Receiver
) -> None:
    receiver.replies = ["unsigned"] * 20
    await acqp.paid("p1")
    await sim.attempts_until(lambda log: len(log) >= 8)
    await all_rounds_passed(acqp, sim)  # a ninth round would have come by now
    assert len(receiver.deliveries) == 8  # initial + 7 resends
    attempts = [a for a in await sim.attempts() if a["payment_request_id"] == "p1"]
    assert [a["acked"] for a in attempts] == [False] * 8


async def test_without_strict_ack_an_unsigned_ack_is_accepted(
    start_sandbox: StartSandbox, receiver: Receiver
) -> None:
    acqp, sim = start_sandbox(strict_ack=False)
    receiver.replies = ["unsigned"]
    await acqp.paid("p1")
    assert [a["acked"] for a in await sim.acked("p1")] == [True]
    assert len(receiver.deliveries) == 1


async def test_an_ack_slower_than_the_notify_timeout_is_resent(
    start_sandbox: StartSandbox, receiver: Receiver
) -> None:
    acqp, sim = start_sandbox(notify_timeout=0.2)  # the receiver's slow ack takes 0.4 s
    receiver.replies = ["slow"]
    await acqp.paid("p1")
    attempts = await sim.acked("p1")
    assert attempts[0]["acked"] is False
    assert "Timeout" in attempts[0]["error"]
    assert len(receiver.deliveries) == len(attempts) >= 2


async def test_a_payment_without_any_notify_url_records_a_failed_attempt(
    acqp: Acqp, sim: Sim
) -> None:
    await acqp.call("pay", pay_body("p1"), client_id=OTHER_CLIENT_ID)
    await sim.ok("POST", "/payments/p1/complete", {"status": "S"})
    [attempt, *_] = await sim.attempts_until(lambda log: len(log) >= 1)
    assert (attempt["url"], attempt["acked"], attempt["client_id"]) == (
        None,
        False,
        OTHER_CLIENT_ID,
    )


async def test_withhold_sends_nothing_until_the_send_call(
    start_sandbox: StartSandbox, receiver: Receiver
) -> None:
    # Real seconds: after the first round, one every half second for half a minute.
    acqp, sim = start_sandbox(time_scale=1.0, notify_schedule=(0.0,) + (0.5,) * 60)
    await sim.policy("withhold")
    await acqp.paid("p1")
    attempt = await sim.ok("POST", "/notifications/p1/send")
    assert (attempt["payment_request_id"], attempt["acked"]) == ("p1", True)
    assert len(receiver.deliveries) == 1
    assert receiver.deliveries[0].verified
    # Once sending is allowed again, the next round delivers and ends the schedule. The send
    # call is first in the log: no round before it sent anything.
    await sim.policy("normal")
    attempts = await sim.attempts_until(lambda log: len(log) >= 2)
    assert attempts[0] == attempt
    assert [a["acked"] for a in attempts] == [True, True]
    assert len(receiver.deliveries) == 2


async def test_send_on_an_open_payment_is_refused(acqp: Acqp, sim: Sim) -> None:
    await acqp.call("pay", pay_body("p1"))
    assert (await sim.request("POST", "/notifications/p1/send")).status_code == 409


async def test_duplicate_sends_each_notification_twice(
    acqp: Acqp, sim: Sim, receiver: Receiver
) -> None:
    await sim.policy("duplicate")
    await acqp.paid("p1")
    # Both copies go out together, and an acknowledged round is the last.
    attempts = await sim.attempts_until(lambda log: len(log) >= 2)
    assert [a["acked"] for a in attempts] == [True, True]
    assert len(receiver.deliveries) == 2
    assert receiver.deliveries[0].raw == receiver.deliveries[1].raw


async def test_a_bad_signature_is_refused_and_resent_validly_once_fixed(
    acqp: Acqp, sim: Sim, receiver: Receiver
) -> None:
    await sim.policy("bad_signature")
    await acqp.paid("p1")
    await wait_until_async(lambda: len(receiver.deliveries) >= 2)
    assert not any(d.verified for d in receiver.deliveries)
    await sim.policy("normal")
    attempts = await sim.attempts_until(lambda log: log[-1]["acked"])
    assert receiver.deliveries[-1].verified
    assert attempts[0]["status_code"] == 401


async def test_the_policy_delay_holds_back_the_first_send(
    acqp: Acqp, sim: Sim, receiver: Receiver
) -> None:
    await sim.policy("normal", delay_seconds=0.3)
    started = time.monotonic()
    await acqp.paid("p1")
    await sim.acked("p1")
    (delivery,) = receiver.deliveries
    assert delivery.received - started >= 0.3


async def test_an_unknown_policy_is_rejected(sim: Sim) -> None:
    response = await sim.request("POST", "/notify-policy", {"mode": "loud"})
    assert response.status_code == 400
