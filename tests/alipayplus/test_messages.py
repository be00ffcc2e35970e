from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapter.alipayplus.messages import (
    PayMerchant,
    PayOrder,
    PayShipping,
    build_cancel_body,
    build_inquiry_body,
    build_pay_body,
    build_refund_body,
    encode_body,
    parse_notification,
    read_inquiry,
    read_pay,
    read_refund,
)
from adapter.alipayplus.models import Amount, Api, MessageError, Reply, Result

MERCHANT = PayMerchant(reference_merchant_id="m-1", mcc="5732", name="Shop GmbH", region="DE")

MINIMAL = PayOrder(
    payment_request_id="pr-1",
    reference_order_id="order-1",
    order_description="Two books",
    amount=Amount("EUR", 1250),
    merchant=MERCHANT,
    terminal_type="WEB",
    redirect_url="https://adapter.example/return/t",
    notify_url="https://adapter.example/alipayplus/notify",
)


def test_minimal_pay_body_has_exactly_the_required_cashier_fields() -> None:
    amount = {"currency": "EUR", "value": "1250"}
    assert build_pay_body(MINIMAL) == {
        "paymentRequestId": "pr-1",
        "order": {
            "referenceOrderId": "order-1",
            "orderDescription": "Two books",
            "orderAmount": amount,
            "merchant": {
                "referenceMerchantId": "m-1",
                "merchantMCC": "5732",
                "merchantName": "Shop GmbH",
                "merchantAddress": {"region": "DE"},
            },
            "env": {"terminalType": "WEB"},
        },
        "paymentAmount": amount,
        "paymentMethod": {"paymentMethodType": "CONNECT_WALLET"},
        "paymentFactor": {"isCashierPayment": "true", "presentmentMode": "UNIFIED"},
        "paymentRedirectUrl": "https://adapter.example/return/t",
        "paymentNotifyUrl": "https://adapter.example/alipayplus/notify",
    }


def test_full_pay_body_places_every_optional_field_where_alipay_expects_it() -> None:
    order = replace(
        MINIMAL,
        merchant=replace(MERCHANT, display_name="Shop"),
        terminal_type="APP",
        os_type="ANDROID",
        buyer_reference_id="cust-9",
        user_region="JP",
        settlement_currency="USD",
        shipping=PayShipping(
            first_name="Hanako",
            last_name="Yamada",
            region="JP",
            state="Tokyo",
            city="Minato",
            address1="1-1",
            address2="Room 2",
            zip_code="105-0011",
        ),
        expiry_time=datetime(2025, 2, 20, 17, 1, 49, 500, tzinfo=timezone(timedelta(hours=9))),
    )
    body = build_pay_body(order)
    assert body["order"]["merchant"]["merchantDisplayName"] == "Shop"
    assert body["order"]["buyer"] == {"referenceBuyerId": "cust-9"}
    assert body["order"]["env"] == {"terminalType": "APP", "osType": "ANDROID"}
    assert body["order"]["shipping"] == {
        "shippingName": {"firstName": "Hanako", "lastName": "Yamada"},
        "shippingAddress": {
            "region": "JP",
            "state": "Tokyo",
            "city": "Minato",
            "address1": "1-1",
            "address2": "Room 2",
            "zipCode": "105-0011",
        },
    }
    assert body["paymentExpiryTime"] == "2025-02-20T08:01:49+00:00"
    assert body["settlementStrategy"] == {"settlementCurrency": "USD"}
    assert body["userRegion"] == "JP"


def test_shipping_without_any_value_is_left_out() -> None:
    assert "shipping" not in build_pay_body(replace(MINIMAL, shipping=PayShipping()))["order"]


def test_order_description_is_cut_to_256_characters_not_bytes() -> None:
    order = replace(MINIMAL, order_description="ü" * 300)
    assert build_pay_body(order)["order"]["orderDescription"] == "ü" * 256


# Any text UTF-8 can carry (lone surrogates cannot, so they never reach the wire).
chars = st.characters(codec="utf-8")
text = st.text(chars, max_size=20)
required = text.filter(bool)
optional = st.none() | text

orders = st.builds(
    PayOrder,
    payment_request_id=required,
    reference_order_id=required,
    order_description=st.text(chars, min_size=1),
    amount=st.builds(
        Amount, st.sampled_from(["EUR", "JPY"]), st.integers(min_value=1, max_value=10**12)
    ),
    merchant=st.builds(
        PayMerchant,
        reference_merchant_id=required,
        mcc=required,
        name=required,
        region=required,
        display_name=optional,
    ),
    terminal_type=st.sampled_from(["WEB", "WAP", "APP", "MINI_APP"]),
    redirect_url=required,
    notify_url=required,
    os_type=st.none() | st.sampled_from(["IOS", "ANDROID"]),
    buyer_reference_id=optional,
    user_region=optional,
    settlement_currency=optional,
    shipping=st.none()
    | st.builds(
        PayShipping,
        first_name=optional,
        last_name=optional,
        region=optional,
        state=optional,
        city=optional,
        address1=optional,
        address2=optional,
        zip_code=optional,
    ),
    expiry_time=st.none() | st.datetimes(timezones=st.just(UTC)),
)


def leaves(obj: Any) -> Iterator[Any]:
    if isinstance(obj, dict):
        assert obj, "empty object on the wire"
        for value in obj.values():
            yield from leaves(value)
    else:
        yield obj


@given(orders)
def test_pay_body_holds_only_non_empty_strings(order: PayOrder) -> None:
    body = json.loads(encode_body(build_pay_body(order)))
    for leaf in leaves(body):
        assert isinstance(leaf, str)
        assert leaf != ""


@given(orders)
def test_os_type_is_sent_exactly_when_given(order: PayOrder) -> None:
    env = build_pay_body(order)["order"]["env"]
    assert env.get("osType") == order.os_type


@pytest.mark.parametrize(
    "change",
    [
        {"payment_request_id": ""},
        {"reference_order_id": ""},
        {"order_description": ""},
        {"redirect_url": ""},
        {"notify_url": ""},
        {"payment_request_id": "x" * 65},
        {"reference_order_id": "x" * 65},
        {"amount": Amount("EUR", 0)},
        {"terminal_type": "PC"},
        {"os_type": "WINDOWS"},
        {"expiry_time": datetime(2025, 1, 1)},  # naive: the point of the case
    ],
    ids=lambda change: next(iter(change)),
)
def test_pay_order_refuses_what_alipay_would_reject(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        replace(MINIMAL, **change)


def test_inquiry_and_cancel_bodies_name_the_payment_request() -> None:
    assert build_inquiry_body("pr-1") == {"paymentRequestId": "pr-1"}
    assert build_cancel_body("pr-1") == {"paymentRequestId": "pr-1"}


@pytest.mark.parametrize("reason", [None, ""])
def test_refund_body_leaves_out_an_absent_reason(reason: str | None) -> None:
    assert build_refund_body("pr-1", "rf-1", Amount("JPY", 5), reason) == {
        "paymentRequestId": "pr-1",
        "refundRequestId": "rf-1",
        "refundAmount": {"currency": "JPY", "value": "5"},
    }


def test_refund_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError):
        build_refund_body("pr-1", "rf-1", Amount("JPY", 0), None)


def test_encode_body_is_compact_utf8_and_keeps_key_order() -> None:
    assert encode_body({"b": "ü", "a": {"c": "1"}}) == '{"b":"ü","a":{"c":"1"}}'.encode()


@given(orders)
def test_encode_body_gives_the_same_bytes_for_the_same_order(order: PayOrder) -> None:
    assert encode_body(build_pay_body(order)) == encode_body(build_pay_body(replace(order)))


# --- readers --------------------------------------------------------------------------------


def reply(api: Api, body: dict[str, Any]) -> Reply:
    raw = json.dumps(body).encode()
    return Reply(api, Result.from_json(body["result"]), body, raw)


IN_PROCESS = {"resultCode": "PAYMENT_IN_PROCESS", "resultStatus": "U", "resultMessage": "-"}
SUCCESS = {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"}


def test_read_pay_takes_payment_id_and_checkout_targets() -> None:
    outcome = read_pay(
        reply(
            Api.PAY,
            {
                "result": IN_PROCESS,
                "paymentId": "2020",
                "normalUrl": "https://checkout.example/p",
                "paymentData": "opaque",
                "guideUrl": "https://guide.example",
            },
        )
    )
    assert outcome.result.code == "PAYMENT_IN_PROCESS"
    assert (outcome.payment_id, outcome.normal_url, outcome.payment_data, outcome.guide_url) == (
        "2020",
        "https://checkout.example/p",
        "opaque",
        "https://guide.example",
    )
    assert outcome.scheme_url is None


def test_read_pay_treats_empty_strings_as_absent() -> None:
    outcome = read_pay(reply(Api.PAY, {"result": IN_PROCESS, "normalUrl": ""}))
    assert outcome.normal_url is None


def test_reader_refuses_a_reply_of_another_api() -> None:
    with pytest.raises(ValueError):
        read_pay(reply(Api.INQUIRY_PAYMENT, {"result": SUCCESS}))


def test_reader_raises_message_error_on_a_non_string_field() -> None:
    with pytest.raises(MessageError):
        read_pay(reply(Api.PAY, {"result": IN_PROCESS, "paymentId": 2020}))


def test_read_inquiry_separates_call_result_from_payment_result() -> None:
    status = read_inquiry(
        reply(
            Api.INQUIRY_PAYMENT,
            {
                "result": SUCCESS,
                "paymentResult": {"resultCode": "RISK_REJECT", "resultStatus": "F"},
                "paymentRequestId": "pr-1",
                "paymentId": "2020",
                "paymentAmount": {"currency": "JPY", "value": "100"},
                "paymentTime": "2020-01-01T12:01:01+08:30",
                "customerId": "c-1",
                "walletBrandName": "KAKAOPAY",
                "pspId": "psp",
                "acquirerId": "acq",
            },
        )
    )
    assert status.result.status == "S"
    assert status.payment_result == Result("RISK_REJECT", "F", "")
    assert status.payment_amount == Amount("JPY", 100)
    assert status.payment_time == "2020-01-01T12:01:01+08:30"
    assert (status.customer_id, status.wallet_brand_name, status.psp_id) == (
        "c-1",
        "KAKAOPAY",
        "psp",
    )


def test_read_inquiry_without_payment_result_gives_none() -> None:
    failed = {"resultCode": "ORDER_NOT_EXIST", "resultStatus": "F"}
    status = read_inquiry(reply(Api.INQUIRY_PAYMENT, {"result": failed}))
    assert status.payment_result is None
    assert status.payment_amount is None


def test_read_refund_takes_id_time_and_amount() -> None:
    outcome = read_refund(
        reply(
            Api.REFUND,
            {
                "result": SUCCESS,
                "refundId": "rf-a",
                "refundTime": "2025-02-20T08:51:49+00:00",
                "refundAmount": {"currency": "EUR", "value": "5"},
            },
        )
    )
    assert (outcome.refund_id, outcome.refund_time, outcome.refund_amount) == (
        "rf-a",
        "2025-02-20T08:51:49+00:00",
        Amount("EUR", 5),
    )


# --- notifications --------------------------------------------------------------------------

DOC_SAMPLE = {
    "acquirerId": "acq-1",
    "pspId": "psp-1",
    "paymentResult": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"},
    "paymentRequestId": "pr-1",
    "paymentId": "2020",
    "paymentTime": "2020-01-01T12:01:01+08:30",
    "paymentAmount": {"value": "100", "currency": "JPY"},
    "customerId": "c-1",
    "walletBrandName": "KAKAOPAY",
}


def notify(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode()


def test_parse_notification_reads_the_documented_success_sample() -> None:
    n = parse_notification(notify(DOC_SAMPLE))
    assert n.payment_request_id == "pr-1"
    assert n.payment_result == Result("SUCCESS", "S", "success")
    assert n.payment_amount == Amount("JPY", 100)
    assert (n.payment_id, n.customer_id, n.wallet_brand_name, n.psp_id, n.acquirer_id) == (
        "2020",
        "c-1",
        "KAKAOPAY",
        "psp-1",
        "acq-1",
    )


def test_parse_notification_accepts_a_failure_without_payment_id() -> None:
    body = {
        "paymentRequestId": "pr-1",
        "acquirerId": "acq-1",
        "paymentResult": {"resultCode": "USER_BALANCE_NOT_ENOUGH", "resultStatus": "F"},
    }
    n = parse_notification(notify(body))
    assert n.payment_result.status == "F"
    assert n.payment_id is None


def test_parse_notification_rejects_a_non_final_u() -> None:
    body = dict(DOC_SAMPLE, paymentResult={"resultCode": "PAYMENT_IN_PROCESS", "resultStatus": "U"})
    with pytest.raises(MessageError):
        parse_notification(notify(body))


@pytest.mark.parametrize("field", ["paymentRequestId", "paymentResult"])
def test_parse_notification_rejects_a_missing_required_field(field: str) -> None:
    body = {k: v for k, v in DOC_SAMPLE.items() if k != field}
    with pytest.raises(MessageError):
        parse_notification(notify(body))


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        notify(dict(DOC_SAMPLE, paymentRequestId="")),
        notify(dict(DOC_SAMPLE, paymentRequestId=1)),
        notify(dict(DOC_SAMPLE, paymentResult="SUCCESS")),
        notify(dict(DOC_SAMPLE, paymentAmount={"value": "1.00", "currency": "JPY"})),
        notify(dict(DOC_SAMPLE, customerId=7)),
    ],
)
def test_parse_notification_rejects_malformed_bodies(raw: bytes) -> None:
    with pytest.raises(MessageError):
        parse_notification(raw)
