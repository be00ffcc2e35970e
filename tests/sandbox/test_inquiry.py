"""inquiryPayment: the payment's state as the ACQP sees it.

As docs/alipayplus.md#inquirypayment and docs/alipayplus.md#state-machine describe it.
"""

from __future__ import annotations

from tests.sandbox.harness import Acqp, Sim, pay_body, refund_body


async def test_an_unknown_payment_is_order_not_exist(acqp: Acqp) -> None:
    answer = await acqp.call("inquiryPayment", {"paymentRequestId": "nope"})
    assert answer == {
        "result": {
            "resultCode": "ORDER_NOT_EXIST",
            "resultStatus": "F",
            "resultMessage": "the order does not exist",
        }
    }


async def test_neither_id_is_param_illegal(acqp: Acqp) -> None:
    assert await acqp.code("inquiryPayment", {}) == "PARAM_ILLEGAL"


async def test_an_open_payment_is_payment_in_process(acqp: Acqp) -> None:
    paid = await acqp.call("pay", pay_body("p1"))
    answer = await acqp.call("inquiryPayment", {"paymentRequestId": "p1"})
    assert answer["result"]["resultStatus"] == "S"
    assert answer["paymentResult"]["resultCode"] == "PAYMENT_IN_PROCESS"
    assert answer["paymentResult"]["resultStatus"] == "U"
    assert answer["paymentId"] == paid["paymentId"]
    assert "paymentTime" not in answer
    [payment] = answer["transactions"]
    assert (payment["transactionType"], payment["transactionStatus"]) == ("PAYMENT", "PROCESSING")


async def test_a_paid_payment_reports_success_and_the_wallet(acqp: Acqp) -> None:
    paid = await acqp.paid("p1")
    answer = await acqp.call("inquiryPayment", {"paymentId": paid["paymentId"]})
    assert answer["paymentResult"]["resultCode"] == "SUCCESS"
    assert answer["paymentRequestId"] == "p1"
    assert answer["paymentAmount"] == {"currency": "EUR", "value": "1000"}
    assert answer["acquirerId"] == "1022188000000000001"
    assert answer["walletBrandName"] == "ALIPAY_CN"
    assert answer["pspId"]
    assert answer["customerId"]
    assert answer["paymentTime"].endswith("+08:00")


async def test_a_declined_payment_reports_the_decline_code(acqp: Acqp, sim: Sim) -> None:
    await acqp.call("pay", pay_body("p1"))
    await sim.ok("POST", "/payments/p1/complete", {"status": "F", "result_code": "RISK_REJECT"})
    answer = await acqp.call("inquiryPayment", {"paymentRequestId": "p1"})
    assert answer["paymentResult"] == {
        "resultCode": "RISK_REJECT",
        "resultStatus": "F",
        "resultMessage": "risk reject",
    }


async def test_a_cancelled_payment_reports_order_is_closed_and_a_cancel_entry(acqp: Acqp) -> None:
    await acqp.paid("p1")
    await acqp.call("cancelPayment", {"paymentRequestId": "p1"})
    answer = await acqp.call("inquiryPayment", {"paymentRequestId": "p1"})
    assert answer["paymentResult"]["resultCode"] == "ORDER_IS_CLOSED"
    kinds = [(t["transactionType"], t["transactionStatus"]) for t in answer["transactions"]]
    assert kinds == [("PAYMENT", "CANCELLED"), ("CANCEL", "SUCCESS")]


async def test_transactions_list_the_payment_and_each_successful_refund(acqp: Acqp) -> None:
    await acqp.paid("p1")
    first = await acqp.call("refund", refund_body("p1", "r1", "100"))
    await acqp.call("refund", refund_body("p1", "r2", "200"))
    await acqp.call("refund", refund_body("p1", "r3", "5000"))  # exceeds: not a transaction
    answer = await acqp.call("inquiryPayment", {"paymentRequestId": "p1"})
    refunds = [t for t in answer["transactions"] if t["transactionType"] == "REFUND"]
    assert [t["transactionRequestId"] for t in refunds] == ["r1", "r2"]
    assert refunds[0]["transactionId"] == first["refundId"]
    assert refunds[0]["transactionAmount"] == {"currency": "EUR", "value": "100"}


async def test_ids_naming_different_payments_are_param_illegal(acqp: Acqp) -> None:
    await acqp.call("pay", pay_body("p1"))
    other = await acqp.call("pay", pay_body("p2"))
    body = {"paymentRequestId": "p1", "paymentId": other["paymentId"]}
    assert await acqp.code("inquiryPayment", body) == "PARAM_ILLEGAL"
