"""Alipay+ request bodies and readers for their answers and for notifyPayment (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapter.alipayplus.models import Amount, MessageError, Reply, Result, decode_object

MAX_ORDER_DESCRIPTION = 256


@dataclass(frozen=True)
class PayMerchant:
    reference_merchant_id: str
    mcc: str
    name: str
    region: str
    display_name: str | None = None


@dataclass(frozen=True)
class PayShipping:
    first_name: str | None = None
    last_name: str | None = None
    region: str | None = None
    state: str | None = None
    city: str | None = None
    address1: str | None = None
    address2: str | None = None
    zip_code: str | None = None


@dataclass(frozen=True)
class PayOrder:
    payment_request_id: str
    reference_order_id: str
    order_description: str
    amount: Amount
    merchant: PayMerchant
    terminal_type: str
    redirect_url: str
    notify_url: str
    os_type: str | None = None
    buyer_reference_id: str | None = None
    user_region: str | None = None
    settlement_currency: str | None = None
    shipping: PayShipping | None = None
    expiry_time: datetime | None = None


def _compact(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Drop absent optional fields: Alipay+ wants them omitted, never "" or null."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, Mapping):
            value = _compact(value)
        if value is None or value == "" or value == {}:
            continue
        out[key] = value
    return out


def build_pay_body(order: PayOrder) -> dict[str, Any]:
    merchant = order.merchant
    shipping = order.shipping
    return _compact(
        {
            "paymentRequestId": order.payment_request_id,
            "order": {
                "referenceOrderId": order.reference_order_id,
                "orderDescription": order.order_description[:MAX_ORDER_DESCRIPTION],
                "orderAmount": order.amount.to_json(),
                "merchant": {
                    "referenceMerchantId": merchant.reference_merchant_id,
                    "merchantMCC": merchant.mcc,
                    "merchantName": merchant.name,
                    "merchantDisplayName": merchant.display_name,
                    "merchantAddress": {"region": merchant.region},
                },
                "buyer": {"referenceBuyerId": order.buyer_reference_id},
                "env": {"terminalType": order.terminal_type, "osType": order.os_type},
                "shipping": None
                if shipping is None
                else {
                    "shippingName": {
                        "firstName": shipping.first_name,
                        "lastName": shipping.last_name,
                    },
                    "shippingAddress": {
                        "region": shipping.region,
                        "state": shipping.state,
                        "city": shipping.city,
                        "address1": shipping.address1,
                        "address2": shipping.address2,
                        "zipCode": shipping.zip_code,
                    },
                },
            },
            "paymentAmount": order.amount.to_json(),
            "paymentMethod": {"paymentMethodType": "CONNECT_WALLET"},
            "paymentFactor": {"isCashierPayment": "true", "presentmentMode": "UNIFIED"},
            "paymentRedirectUrl": order.redirect_url,
            "paymentNotifyUrl": order.notify_url,
            "paymentExpiryTime": order.expiry_time.isoformat() if order.expiry_time else None,
            "settlementStrategy": {"settlementCurrency": order.settlement_currency},
            "userRegion": order.user_region,
        }
    )


def build_inquiry_body(payment_request_id: str) -> dict[str, Any]:
    return {"paymentRequestId": payment_request_id}


def build_cancel_body(payment_request_id: str) -> dict[str, Any]:
    return {"paymentRequestId": payment_request_id}


def build_refund_body(
    payment_request_id: str, refund_request_id: str, amount: Amount, reason: str | None
) -> dict[str, Any]:
    return _compact(
        {
            "paymentRequestId": payment_request_id,
            "refundRequestId": refund_request_id,
            "refundAmount": amount.to_json(),
            "refundReason": reason,
        }
    )


def encode_body(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) and value else None


def _amount(body: Mapping[str, Any], key: str) -> Amount | None:
    return Amount.from_json(body[key]) if body.get(key) is not None else None


@dataclass(frozen=True)
class PayOutcome:
    result: Result
    payment_id: str | None
    normal_url: str | None
    payment_data: str | None


def read_pay(reply: Reply) -> PayOutcome:
    body = reply.body
    return PayOutcome(
        reply.result, _text(body, "paymentId"), _text(body, "normalUrl"), _text(body, "paymentData")
    )


@dataclass(frozen=True)
class PaymentStatus:
    payment_result: Result | None
    payment_id: str | None
    payment_amount: Amount | None
    payment_time: str | None
    customer_id: str | None
    wallet_brand_name: str | None
    psp_id: str | None


def read_inquiry(reply: Reply) -> PaymentStatus:
    body = reply.body
    result = body.get("paymentResult")
    return PaymentStatus(
        payment_result=Result.from_json(result) if result is not None else None,
        payment_id=_text(body, "paymentId"),
        payment_amount=_amount(body, "paymentAmount"),
        payment_time=_text(body, "paymentTime"),
        customer_id=_text(body, "customerId"),
        wallet_brand_name=_text(body, "walletBrandName"),
        psp_id=_text(body, "pspId"),
    )


@dataclass(frozen=True)
class RefundOutcome:
    refund_id: str | None
    refund_time: str | None
    refund_amount: Amount | None


def read_refund(reply: Reply) -> RefundOutcome:
    body = reply.body
    return RefundOutcome(
        _text(body, "refundId"), _text(body, "refundTime"), _amount(body, "refundAmount")
    )


@dataclass(frozen=True)
class PaymentNotification:
    payment_request_id: str
    payment_result: Result
    payment_id: str | None = None
    payment_amount: Amount | None = None
    payment_time: str | None = None
    customer_id: str | None = None
    wallet_brand_name: str | None = None
    psp_id: str | None = None
    acquirer_id: str | None = None


def parse_notification(body: bytes) -> PaymentNotification:
    """A notify is final: S or F; a U (or anything malformed) raises MessageError."""
    obj = decode_object(body)
    request_id = _text(obj, "paymentRequestId")
    if request_id is None:
        raise MessageError("paymentRequestId missing")
    result = Result.from_json(obj.get("paymentResult"))
    if result.status == "U":
        raise MessageError("a notification carries a final result, not U")
    return PaymentNotification(
        payment_request_id=request_id,
        payment_result=result,
        payment_id=_text(obj, "paymentId"),
        payment_amount=_amount(obj, "paymentAmount"),
        payment_time=_text(obj, "paymentTime"),
        customer_id=_text(obj, "customerId"),
        wallet_brand_name=_text(obj, "walletBrandName"),
        psp_id=_text(obj, "pspId"),
        acquirer_id=_text(obj, "acquirerId"),
    )
