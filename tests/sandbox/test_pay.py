"""pay: validation, the created order, idempotency, expiry.

As docs/alipayplus.md#pay and docs/alipayplus.md#rules-per-api describe it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.sandbox.harness import Acqp, Sim, pay_body


def without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    node = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return body


def replaced(body: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


async def test_pay_creates_an_order_in_process_with_a_checkout_url(acqp: Acqp, sim: Sim) -> None:
    answer = await acqp.call("pay", pay_body("p1"))
    assert answer["result"] == {
        "resultCode": "PAYMENT_IN_PROCESS",
        "resultStatus": "U",
        "resultMessage": "payment in process",
    }
    assert answer["paymentAmount"] == {"currency": "EUR", "value": "1000"}
    assert answer["acquirerId"] == "1022188000000000001"
    assert answer["normalUrl"].startswith(f"{acqp.base_url}/checkout/")
    assert "paymentData" not in answer
    ledger = await sim.payment("p1")
    assert (ledger["state"], ledger["paymentId"]) == ("INIT", answer["paymentId"])


@pytest.mark.parametrize("terminal", ["APP", "MINI_APP"])
async def test_app_terminals_get_payment_data_that_is_the_checkout_url(
    acqp: Acqp, terminal: str
) -> None:
    answer = await acqp.call("pay", pay_body("p1", terminal=terminal))
    assert "normalUrl" not in answer
    assert answer["paymentData"].startswith(f"{acqp.base_url}/checkout/")


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda b: without(b, "paymentRequestId"), id="no paymentRequestId"),
        pytest.param(lambda b: replaced(b, "", "paymentRequestId"), id="empty paymentRequestId"),
        pytest.param(lambda b: replaced(b, "x" * 65, "paymentRequestId"), id="id over 64"),
        pytest.param(lambda b: without(b, "order"), id="no order"),
        pytest.param(lambda b: without(b, "order", "referenceOrderId"), id="no referenceOrderId"),
        pytest.param(lambda b: without(b, "order", "orderDescription"), id="no description"),
        pytest.param(lambda b: without(b, "order", "orderAmount"), id="no orderAmount"),
        pytest.param(lambda b: without(b, "order", "merchant"), id="no merchant"),
        pytest.param(lambda b: without(b, "order", "env", "terminalType"), id="no terminalType"),
        pytest.param(lambda b: replaced(b, "TV", "order", "env", "terminalType"), id="bad term"),
        pytest.param(lambda b: without(b, "paymentAmount"), id="no paymentAmount"),
        pytest.param(lambda b: replaced(b, "0", "paymentAmount", "value"), id="zero amount"),
        pytest.param(lambda b: replaced(b, "010", "paymentAmount", "value"), id="leading zero"),
        pytest.param(lambda b: replaced(b, "10.00", "paymentAmount", "value"), id="decimal"),
        pytest.param(lambda b: replaced(b, 1000, "paymentAmount", "value"), id="number value"),
        pytest.param(lambda b: replaced(b, "eur", "paymentAmount", "currency"), id="lowercase"),
        pytest.param(lambda b: replaced(b, "USD", "paymentAmount", "currency"), id="ccy mismatch"),
        pytest.param(lambda b: without(b, "paymentFactor"), id="no paymentFactor"),
        pytest.param(
            lambda b: replaced(b, "false", "paymentFactor", "isCashierPayment"), id="not cashier"
        ),
        pytest.param(
            lambda b: replaced(b, True, "paymentFactor", "isCashierPayment"), id="boolean true"
        ),
        pytest.param(lambda b: without(b, "paymentMethod"), id="no paymentMethod"),
        pytest.param(
            lambda b: without(b, "paymentMethod", "paymentMethodType"), id="no paymentMethodType"
        ),
        pytest.param(lambda b: replaced(b, "", "paymentNotifyUrl"), id="empty optional"),
        pytest.param(lambda b: replaced(b, "tomorrow", "paymentExpiryTime"), id="bad expiry"),
        pytest.param(lambda b: replaced(b, 3, "order", "goods"), id="number in ignored field"),
    ],
)
async def test_an_invalid_pay_request_is_param_illegal(acqp: Acqp, sim: Sim, mangle: Any) -> None:
    answer = await acqp.call("pay", mangle(pay_body("p1")))
    assert answer["result"]["resultCode"] == "PARAM_ILLEGAL"
    assert answer["result"]["resultStatus"] == "F"
    assert (await sim.request("GET", "/payments/p1")).status_code == 404


@pytest.mark.parametrize("terminal", ["APP", "WAP"])
async def test_app_and_wap_require_an_os_type(acqp: Acqp, terminal: str) -> None:
    body = without(pay_body("p1", terminal=terminal), "order", "env", "osType")
    assert await acqp.code("pay", body) == "PARAM_ILLEGAL"


async def test_a_currency_outside_the_allow_list_is_currency_not_support(acqp: Acqp) -> None:
    assert await acqp.code("pay", pay_body("p1", currency="ZAR")) == "CURRENCY_NOT_SUPPORT"


async def test_a_repeated_pay_replays_the_same_order(acqp: Acqp) -> None:
    first = await acqp.call("pay", pay_body("p1"))
    again = await acqp.call("pay", pay_body("p1"))
    assert again == first


async def test_a_repeat_may_change_parameters_outside_the_fingerprint(acqp: Acqp) -> None:
    first = await acqp.call("pay", pay_body("p1"))
    body = replaced(pay_body("p1"), "3 cups of coffee", "order", "orderDescription")
    assert (await acqp.call("pay", body))["paymentId"] == first["paymentId"]


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda b: replaced(b, "999", "paymentAmount", "value"), id="paymentAmount"),
        pytest.param(lambda b: replaced(b, "2000", "order", "orderAmount", "value"), id="order"),
        pytest.param(
            lambda b: replaced(b, "ALIPAY_CN", "paymentMethod", "paymentMethodType"), id="method"
        ),
        pytest.param(
            lambda b: replaced(b, "TILED", "paymentFactor", "presentmentMode"), id="factor"
        ),
        pytest.param(
            lambda b: replaced(b, {"settlementCurrency": "USD"}, "settlementStrategy"),
            id="settlement",
        ),
    ],
)
async def test_a_repeat_with_other_key_parameters_is_repeat_req_inconsistent(
    acqp: Acqp, mangle: Any
) -> None:
    await acqp.call("pay", pay_body("p1"))
    assert await acqp.code("pay", mangle(pay_body("p1"))) == "REPEAT_REQ_INCONSISTENT"


async def test_a_repeat_after_the_user_paid_answers_success(acqp: Acqp) -> None:
    first = await acqp.paid("p1")
    again = await acqp.call("pay", pay_body("p1"))
    assert again["result"]["resultCode"] == "SUCCESS"
    assert again["paymentId"] == first["paymentId"]


async def test_pay_again_after_a_decline_is_order_is_closed(acqp: Acqp, sim: Sim) -> None:
    await acqp.call("pay", pay_body("p1"))
    await sim.ok("POST", "/payments/p1/complete", {"status": "F"})
    assert await acqp.code("pay", pay_body("p1")) == "ORDER_IS_CLOSED"


async def test_pay_again_after_a_cancel_is_order_is_closed(acqp: Acqp) -> None:
    await acqp.call("pay", pay_body("p1"))
    await acqp.call("cancelPayment", {"paymentRequestId": "p1"})
    assert await acqp.code("pay", pay_body("p1")) == "ORDER_IS_CLOSED"


async def test_an_open_payment_expires_at_its_payment_expiry_time(acqp: Acqp, sim: Sim) -> None:
    now = await sim.advance(0)
    expiry = (now + timedelta(minutes=2)).isoformat()
    await acqp.call("pay", pay_body("p1", paymentExpiryTime=expiry))
    await sim.advance(119)
    assert (await sim.payment("p1"))["state"] == "INIT"
    await sim.advance(2)
    ledger = await sim.payment("p1")
    assert (ledger["state"], ledger["resultCode"]) == ("FAIL", "ORDER_IS_CLOSED")


async def test_a_payment_expiry_time_beyond_ten_minutes_is_capped(acqp: Acqp, sim: Sim) -> None:
    now = await sim.advance(0)
    expiry = (now + timedelta(hours=1)).isoformat()
    await acqp.call("pay", pay_body("p1", paymentExpiryTime=expiry))
    await sim.advance(599)
    assert (await sim.payment("p1"))["state"] == "INIT"
    await sim.advance(2)
    assert (await sim.payment("p1"))["state"] == "FAIL"


async def test_an_expired_payment_inquires_as_failed_and_pay_again_is_closed(
    acqp: Acqp, sim: Sim
) -> None:
    await acqp.call("pay", pay_body("p1"))
    await sim.advance(601)
    inquiry = await acqp.call("inquiryPayment", {"paymentRequestId": "p1"})
    assert inquiry["paymentResult"]["resultCode"] == "ORDER_IS_CLOSED"
    assert inquiry["paymentResult"]["resultStatus"] == "F"
    assert await acqp.code("pay", pay_body("p1")) == "ORDER_IS_CLOSED"


async def test_the_expiry_code_is_a_knob(start_sandbox: Any) -> None:
    acqp, sim = start_sandbox(expiry_code="PAYMENT_EXPIRED")
    await acqp.call("pay", pay_body("p1"))
    await sim.advance(601)
    assert (await sim.payment("p1"))["resultCode"] == "PAYMENT_EXPIRED"
