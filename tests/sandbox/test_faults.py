"""Injected faults: forced results, latency, lost answers, broken response signatures.

As docs/alipayplus.md#faults describes them.
"""

from __future__ import annotations

import time

import pytest

from tests.sandbox.harness import PAYMENTS, Acqp, Sim, pay_body, refund_body


async def test_a_forced_failure_is_answered_without_processing(acqp: Acqp, sim: Sim) -> None:
    await sim.fault(api="pay", mode="result", result_code="RISK_REJECT")
    answer = await acqp.call("pay", pay_body("p1"))
    assert answer == {
        "result": {"resultCode": "RISK_REJECT", "resultStatus": "F", "resultMessage": "risk reject"}
    }
    assert (await sim.request("GET", "/payments/p1")).status_code == 404


async def test_a_forced_unknown_leaves_the_request_unprocessed_for_the_retry(
    acqp: Acqp, sim: Sim
) -> None:
    await sim.fault(api="pay", mode="result", result_code="UNKNOWN_EXCEPTION")
    assert (await acqp.call("pay", pay_body("p1")))["result"]["resultStatus"] == "U"
    assert (await sim.request("GET", "/payments/p1")).status_code == 404
    assert await acqp.code("pay", pay_body("p1")) == "PAYMENT_IN_PROCESS"


async def test_a_forced_result_may_pair_any_code_with_any_status(acqp: Acqp, sim: Sim) -> None:
    await sim.fault(api="inquiryPayment", mode="result", result_code="X", result_status="U")
    answer = await acqp.call("inquiryPayment", {"paymentRequestId": "p1"})
    assert (answer["result"]["resultCode"], answer["result"]["resultStatus"]) == ("X", "U")


async def test_a_delay_answers_late_but_normally(acqp: Acqp, sim: Sim) -> None:
    await sim.fault(api="pay", mode="delay", delay_seconds=0.3)
    started = time.monotonic()
    assert await acqp.code("pay", pay_body("p1")) == "PAYMENT_IN_PROCESS"
    assert time.monotonic() - started >= 0.3


async def test_a_stall_answers_late_without_processing(acqp: Acqp, sim: Sim) -> None:
    await sim.fault(api="pay", mode="stall", delay_seconds=0.3)
    started = time.monotonic()
    assert (await acqp.post("pay", pay_body("p1"))).status_code == 504
    assert time.monotonic() - started >= 0.3
    assert (await sim.request("GET", "/payments/p1")).status_code == 404


async def test_drop_after_commit_keeps_the_payment_but_loses_the_answer(
    acqp: Acqp, sim: Sim
) -> None:
    await sim.fault(api="pay", mode="drop_after_commit")
    lost = await acqp.post("pay", pay_body("p1"))
    assert (lost.status_code, lost.content) == (500, b"")
    ledger = await sim.payment("p1")
    retried = await acqp.call("pay", pay_body("p1"))
    assert retried["paymentId"] == ledger["paymentId"]


async def test_a_refund_whose_answer_was_lost_replays_on_retry(acqp: Acqp, sim: Sim) -> None:
    await acqp.paid("p1")
    await sim.fault(api="refund", mode="drop_after_commit")
    assert (await acqp.post("refund", refund_body("p1", "r1"))).status_code == 500
    [refund] = (await sim.payment("p1"))["refunds"]
    retried = await acqp.call("refund", refund_body("p1", "r1"))
    assert retried["refundId"] == refund["refundId"]
    assert (await sim.payment("p1"))["refunded"] == 10


async def test_http_500_fails_without_processing(acqp: Acqp, sim: Sim) -> None:
    await sim.fault(api="pay", mode="http_500")
    assert (await acqp.post("pay", pay_body("p1"))).status_code == 500
    assert (await sim.request("GET", "/payments/p1")).status_code == 404


async def test_bad_signature_processes_but_signs_with_a_wrong_key(acqp: Acqp, sim: Sim) -> None:
    await sim.fault(api="pay", mode="bad_signature")
    response = await acqp.post("pay", pay_body("p1"))
    assert response.json()["result"]["resultCode"] == "PAYMENT_IN_PROCESS"
    assert response.headers["signature"].startswith("algorithm=RSA256")
    assert not acqp.verified(PAYMENTS + "pay", response)
    assert (await sim.payment("p1"))["state"] == "INIT"


async def test_unsigned_drops_all_three_signature_headers(acqp: Acqp, sim: Sim) -> None:
    await sim.fault(api="pay", mode="unsigned")
    response = await acqp.post("pay", pay_body("p1"))
    assert response.json()["result"]["resultCode"] == "PAYMENT_IN_PROCESS"
    assert not {"client-id", "response-time", "signature"} & response.headers.keys()


async def test_missing_signature_drops_only_the_signature_header(acqp: Acqp, sim: Sim) -> None:
    await sim.fault(api="pay", mode="missing_signature")
    response = await acqp.post("pay", pay_body("p1"))
    assert {"client-id", "response-time"} <= response.headers.keys()
    assert "signature" not in response.headers


async def test_a_fault_hits_count_calls_then_stops(acqp: Acqp, sim: Sim) -> None:
    await sim.fault(api="pay", mode="http_500", count=2)
    statuses = [(await acqp.post("pay", pay_body("p1"))).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]


async def test_a_fault_for_a_request_id_spares_other_requests(acqp: Acqp, sim: Sim) -> None:
    await sim.fault(api="pay", mode="http_500", request_id="p2")
    assert (await acqp.post("pay", pay_body("p1"))).status_code == 200
    assert (await acqp.post("pay", pay_body("p2"))).status_code == 500


async def test_a_refund_fault_matches_the_refund_request_id(acqp: Acqp, sim: Sim) -> None:
    await acqp.paid("p1")
    await sim.fault(api="refund", mode="http_500", request_id="r2")
    assert (await acqp.post("refund", refund_body("p1", "r1"))).status_code == 200
    assert (await acqp.post("refund", refund_body("p1", "r2"))).status_code == 500


async def test_a_fault_only_hits_its_api(acqp: Acqp, sim: Sim) -> None:
    await sim.fault(api="refund", mode="http_500")
    assert (await acqp.post("pay", pay_body("p1"))).status_code == 200


async def test_deleting_faults_clears_them(acqp: Acqp, sim: Sim) -> None:
    await sim.fault(api="pay", mode="http_500", count=5)
    assert await sim.ok("DELETE", "/faults") == {"cleared": 1}
    assert (await acqp.post("pay", pay_body("p1"))).status_code == 200


async def test_putting_faults_replaces_them_all(acqp: Acqp, sim: Sim) -> None:
    await sim.fault(api="pay", mode="http_500", count=5)
    await sim.ok("PUT", "/faults", [{"api": "pay", "mode": "result", "result_code": "RISK_REJECT"}])
    assert await acqp.code("pay", pay_body("p1")) == "RISK_REJECT"
    assert await acqp.code("pay", pay_body("p2")) == "PAYMENT_IN_PROCESS"


async def test_an_invalid_replacement_keeps_the_faults_as_they_were(acqp: Acqp, sim: Sim) -> None:
    await sim.fault(api="pay", mode="http_500")
    valid = {"api": "pay", "mode": "result", "result_code": "RISK_REJECT"}
    for body in ([valid, {"api": "pay", "mode": "explode"}], {"api": "pay"}):
        assert (await sim.request("PUT", "/faults", body)).status_code == 400
    assert (await acqp.post("pay", pay_body("p1"))).status_code == 500


async def test_faults_apply_only_after_authentication(acqp: Acqp, sim: Sim) -> None:
    await sim.fault(api="pay", mode="http_500")
    assert await acqp.code("pay", pay_body("p1"), client_id="NOBODY") == "INVALID_CLIENT"
    assert (await acqp.post("pay", pay_body("p1"))).status_code == 500


@pytest.mark.parametrize(
    "spec",
    [
        {"api": "consultPayment", "mode": "http_500"},
        {"api": "pay", "mode": "explode"},
        {"api": "pay", "mode": "delay", "delay_seconds": -1},
        {"api": "pay", "mode": "http_500", "count": 0},
        {"api": "pay", "mode": "result", "result_code": "X", "result_status": "Q"},
        {"api": "pay", "mode": "http_500", "request_id": 7},
    ],
)
async def test_an_invalid_fault_is_rejected(sim: Sim, spec: dict[str, object]) -> None:
    assert (await sim.request("POST", "/faults", spec)).status_code == 400
