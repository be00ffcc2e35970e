"""The four ACQP → Alipay+ requests, parsed and validated (docs/alipayplus.md#rules-per-api)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from adapter.sandbox.validation import (
    Amount,
    JsonObject,
    illegal,
    optional_object,
    optional_str,
    optional_time,
    required_amount,
    required_object,
    required_str,
    without_nulls,
)

TERMINAL_TYPES = frozenset({"WEB", "WAP", "APP", "MINI_APP"})
OS_TYPES = frozenset({"IOS", "ANDROID"})
# These terminals open the checkout in a browser; APP and MINI_APP get paymentData instead.
BROWSER_TERMINALS = frozenset({"WEB", "WAP"})


@dataclass(frozen=True, slots=True)
class PayRequest:
    payment_request_id: str
    amount: Amount
    order_amount: Amount
    payment_method_type: str
    terminal_type: str
    reference_order_id: str
    order_description: str
    merchant_name: str
    redirect_url: str | None
    notify_url: str | None
    expiry_time: datetime | None
    fingerprint: str  # the idempotency-checked parameters, canonically serialised


@dataclass(frozen=True, slots=True)
class PaymentRef:
    """paymentRequestId and/or paymentId; at least one is present."""

    payment_request_id: str | None
    payment_id: str | None


@dataclass(frozen=True, slots=True)
class RefundRequest:
    payment: PaymentRef
    refund_request_id: str
    amount: Amount


def parse_pay(body: JsonObject) -> PayRequest:
    payment_request_id = required_str(body, "paymentRequestId", "", 64)
    amount = required_amount(body, "paymentAmount", "")
    order = required_object(body, "order", "")
    order_amount = required_amount(order, "orderAmount", "order.")
    if order_amount.currency != amount.currency:
        raise illegal("paymentAmount must be in the currency of order.orderAmount")
    merchant = required_object(order, "merchant", "order.")
    env = required_object(order, "env", "order.")
    terminal_type = required_str(env, "terminalType", "order.env.")
    if terminal_type not in TERMINAL_TYPES:
        raise illegal(f"order.env.terminalType must be one of {sorted(TERMINAL_TYPES)}")
    os_type = optional_str(env, "osType", "order.env.")
    if terminal_type in {"APP", "WAP"} and os_type is None:
        raise illegal("order.env.osType is required for APP and WAP")
    if os_type is not None and os_type not in OS_TYPES:
        raise illegal(f"order.env.osType must be one of {sorted(OS_TYPES)}")
    factor = required_object(body, "paymentFactor", "")
    if optional_str(factor, "isCashierPayment", "paymentFactor.") != "true":
        raise illegal('paymentFactor.isCashierPayment must be "true"')
    method = required_object(body, "paymentMethod", "")
    method_type = required_str(method, "paymentMethodType", "paymentMethod.", 64)
    settlement = optional_object(body, "settlementStrategy", "")
    return PayRequest(
        payment_request_id=payment_request_id,
        amount=amount,
        order_amount=order_amount,
        payment_method_type=method_type,
        terminal_type=terminal_type,
        reference_order_id=required_str(order, "referenceOrderId", "order.", 64),
        order_description=required_str(order, "orderDescription", "order.", 256),
        merchant_name=_merchant_name(merchant),
        redirect_url=optional_str(body, "paymentRedirectUrl", "", 1024),
        notify_url=optional_str(body, "paymentNotifyUrl", "", 1024),
        expiry_time=optional_time(body, "paymentExpiryTime", ""),
        fingerprint=json.dumps(
            without_nulls(
                [amount.to_json(), method_type, order_amount.to_json(), factor, settlement]
            ),
            sort_keys=True,
        ),
    )


def _merchant_name(merchant: JsonObject) -> str:
    for key in ("merchantDisplayName", "merchantName", "referenceMerchantId"):
        value = optional_str(merchant, key, "order.merchant.")
        if value is not None:
            return value
    return ""


def parse_payment_ref(body: JsonObject) -> PaymentRef:
    payment_request_id = optional_str(body, "paymentRequestId", "", 64)
    payment_id = optional_str(body, "paymentId", "", 64)
    if payment_request_id is None and payment_id is None:
        raise illegal("paymentRequestId or paymentId is required")
    return PaymentRef(payment_request_id, payment_id)


def parse_refund(body: JsonObject) -> RefundRequest:
    return RefundRequest(
        payment=parse_payment_ref(body),
        refund_request_id=required_str(body, "refundRequestId", "", 64),
        amount=required_amount(body, "refundAmount", ""),
    )


def request_id(api: str, body: JsonObject) -> str | None:
    """The id faults and call counts are keyed by: refundRequestId or paymentRequestId."""
    value = body.get("refundRequestId" if api == "refund" else "paymentRequestId")
    return value if isinstance(value, str) and value else None
