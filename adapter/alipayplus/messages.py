"""Request builders and response/notification readers for the Cashier payment APIs.

Pure functions over plain data: no I/O, no clock. Alipay+ rules applied here: every scalar
is a JSON string, and optional fields are omitted — never ``""`` and never ``null``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapter.alipayplus.models import (
    Amount,
    Api,
    MessageError,
    Reply,
    Result,
    decode_object,
    require_object,
)
from adapter.alipayplus.signing import timestamp

TERMINAL_TYPES: frozenset[str] = frozenset({"WEB", "WAP", "APP", "MINI_APP"})
OS_TYPES: frozenset[str] = frozenset({"IOS", "ANDROID"})

MAX_ID_LENGTH = 64
MAX_DESCRIPTION_LENGTH = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class PayMerchant:
    reference_merchant_id: str
    mcc: str
    name: str
    region: str  # ISO-3166 alpha-2
    display_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PayShipping:
    first_name: str | None = None
    last_name: str | None = None
    region: str | None = None
    state: str | None = None
    city: str | None = None
    address1: str | None = None
    address2: str | None = None
    zip_code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PayOrder:
    """Everything a Cashier (UNIFIED presentment) pay request carries.

    Alipay+ wants ``os_type`` when ``terminal_type`` is APP or WAP; it is not enforced here
    because the gateway answers a clean ``F``/``PARAM_ILLEGAL`` if it really insists.
    """

    payment_request_id: str
    reference_order_id: str
    order_description: str
    amount: Amount
    merchant: PayMerchant
    terminal_type: str  # WEB | WAP | APP | MINI_APP
    redirect_url: str
    notify_url: str
    os_type: str | None = None  # IOS | ANDROID
    buyer_reference_id: str | None = None
    user_region: str | None = None
    settlement_currency: str | None = None
    shipping: PayShipping | None = None
    expiry_time: datetime | None = None

    def __post_init__(self) -> None:
        # Fail at construction: an empty required field would only come back as PARAM_ILLEGAL.
        for name in (
            "payment_request_id",
            "reference_order_id",
            "order_description",
            "redirect_url",
            "notify_url",
        ):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")
        for name in ("payment_request_id", "reference_order_id"):
            if len(getattr(self, name)) > MAX_ID_LENGTH:
                raise ValueError(f"{name} is longer than {MAX_ID_LENGTH} characters")
        if self.terminal_type not in TERMINAL_TYPES:
            raise ValueError(f"terminal_type {self.terminal_type!r} is not one Alipay+ knows")
        if self.os_type is not None and self.os_type not in OS_TYPES:
            raise ValueError(f"os_type {self.os_type!r} is not IOS or ANDROID")
        if self.amount.value <= 0:
            raise ValueError("pay amount must be positive")
        if self.expiry_time is not None and self.expiry_time.utcoffset() is None:
            raise ValueError("expiry_time must be timezone-aware")


def _put(target: dict[str, Any], key: str, value: str | None) -> None:
    """Set an optional field only when it has a value ("" counts as absent)."""
    if value:
        target[key] = value


def _merchant_json(merchant: PayMerchant) -> dict[str, Any]:
    out: dict[str, Any] = {
        "referenceMerchantId": merchant.reference_merchant_id,
        "merchantMCC": merchant.mcc,
        "merchantName": merchant.name,
    }
    _put(out, "merchantDisplayName", merchant.display_name)
    out["merchantAddress"] = {"region": merchant.region}
    return out


def _shipping_json(shipping: PayShipping) -> dict[str, Any]:
    # Same shape as the SDK models: shippingName{firstName,lastName}, shippingAddress{…}.
    name: dict[str, Any] = {}
    _put(name, "firstName", shipping.first_name)
    _put(name, "lastName", shipping.last_name)
    address: dict[str, Any] = {}
    _put(address, "region", shipping.region)
    _put(address, "state", shipping.state)
    _put(address, "city", shipping.city)
    _put(address, "address1", shipping.address1)
    _put(address, "address2", shipping.address2)
    _put(address, "zipCode", shipping.zip_code)
    out: dict[str, Any] = {}
    if name:
        out["shippingName"] = name
    if address:
        out["shippingAddress"] = address
    return out


def build_pay_body(order: PayOrder) -> dict[str, Any]:
    amount = order.amount.to_json()
    env: dict[str, Any] = {"terminalType": order.terminal_type}
    _put(env, "osType", order.os_type)
    order_json: dict[str, Any] = {
        "referenceOrderId": order.reference_order_id,
        # ≤256 per the docs; cut by characters so a multi-byte text is never split mid-char.
        "orderDescription": order.order_description[:MAX_DESCRIPTION_LENGTH],
        "orderAmount": amount,
        "merchant": _merchant_json(order.merchant),
    }
    if order.buyer_reference_id:
        order_json["buyer"] = {"referenceBuyerId": order.buyer_reference_id}
    order_json["env"] = env
    if order.shipping is not None and (shipping := _shipping_json(order.shipping)):
        order_json["shipping"] = shipping
    body: dict[str, Any] = {
        "paymentRequestId": order.payment_request_id,
        "order": order_json,
        "paymentAmount": dict(amount),
        "paymentMethod": {"paymentMethodType": "CONNECT_WALLET"},
        "paymentFactor": {"isCashierPayment": "true", "presentmentMode": "UNIFIED"},
        "paymentRedirectUrl": order.redirect_url,
        "paymentNotifyUrl": order.notify_url,
    }
    if order.expiry_time is not None:
        body["paymentExpiryTime"] = timestamp(order.expiry_time)
    if order.settlement_currency:
        body["settlementStrategy"] = {"settlementCurrency": order.settlement_currency}
    _put(body, "userRegion", order.user_region)
    return body


def build_inquiry_body(payment_request_id: str) -> dict[str, Any]:
    return {"paymentRequestId": payment_request_id}


def build_cancel_body(payment_request_id: str) -> dict[str, Any]:
    return {"paymentRequestId": payment_request_id}


def build_refund_body(
    payment_request_id: str, refund_request_id: str, amount: Amount, reason: str | None
) -> dict[str, Any]:
    if amount.value <= 0:
        raise ValueError("refund amount must be positive")
    body: dict[str, Any] = {
        "paymentRequestId": payment_request_id,
        "refundRequestId": refund_request_id,
        "refundAmount": amount.to_json(),
    }
    _put(body, "refundReason", reason)
    return body


def encode_body(obj: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; the same mapping always gives the same bytes (key order kept)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


# --- readers ---------------------------------------------------------------------------------


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MessageError(f"{key} is not a string")
    return value


def _opt_amount(data: Mapping[str, Any], key: str) -> Amount | None:
    value = data.get(key)
    return None if value is None else Amount.from_json(value)


def _opt_result(data: Mapping[str, Any], key: str) -> Result | None:
    value = data.get(key)
    return None if value is None else Result.from_json(value)


def _expect(reply: Reply, api: Api) -> None:
    if reply.api is not api:
        raise ValueError(f"expected a {api} reply, got {reply.api}")


@dataclass(frozen=True, slots=True)
class PayOutcome:
    """The pay answer: for Cashier the order exists (U/PAYMENT_IN_PROCESS) or it does not (F)."""

    result: Result
    payment_id: str | None
    normal_url: str | None  # checkout page for WEB/WAP
    payment_data: str | None  # opaque string for the app-side Alipay+ SDK (APP)
    guide_url: str | None
    # Antom names; not confirmed for Alipay+, read in case the tile edition sends them.
    scheme_url: str | None
    applink_url: str | None


def read_pay(reply: Reply) -> PayOutcome:
    _expect(reply, Api.PAY)
    b = reply.body
    return PayOutcome(
        result=reply.result,
        payment_id=_opt_str(b, "paymentId"),
        normal_url=_opt_str(b, "normalUrl"),
        payment_data=_opt_str(b, "paymentData"),
        guide_url=_opt_str(b, "guideUrl"),
        scheme_url=_opt_str(b, "schemeUrl"),
        applink_url=_opt_str(b, "applinkUrl"),
    )


@dataclass(frozen=True, slots=True)
class PaymentStatus:
    """``result`` is the inquiry call's status; ``payment_result`` the payment's (when S)."""

    result: Result
    payment_result: Result | None
    payment_request_id: str | None
    payment_id: str | None
    payment_amount: Amount | None
    payment_time: str | None  # ISO-8601 as sent; kept verbatim
    customer_id: str | None
    wallet_brand_name: str | None
    psp_id: str | None
    acquirer_id: str | None


def read_inquiry(reply: Reply) -> PaymentStatus:
    _expect(reply, Api.INQUIRY_PAYMENT)
    b = reply.body
    return PaymentStatus(
        result=reply.result,
        payment_result=_opt_result(b, "paymentResult"),
        payment_request_id=_opt_str(b, "paymentRequestId"),
        payment_id=_opt_str(b, "paymentId"),
        payment_amount=_opt_amount(b, "paymentAmount"),
        payment_time=_opt_str(b, "paymentTime"),
        customer_id=_opt_str(b, "customerId"),
        wallet_brand_name=_opt_str(b, "walletBrandName"),
        psp_id=_opt_str(b, "pspId"),
        acquirer_id=_opt_str(b, "acquirerId"),
    )


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    result: Result
    refund_id: str | None
    refund_time: str | None
    refund_amount: Amount | None


def read_refund(reply: Reply) -> RefundOutcome:
    _expect(reply, Api.REFUND)
    b = reply.body
    return RefundOutcome(
        result=reply.result,
        refund_id=_opt_str(b, "refundId"),
        refund_time=_opt_str(b, "refundTime"),
        refund_amount=_opt_amount(b, "refundAmount"),
    )


@dataclass(frozen=True, slots=True)
class PaymentNotification:
    payment_request_id: str
    payment_id: str | None
    payment_result: Result  # status S or F: notifications are final
    payment_amount: Amount | None
    payment_time: str | None
    customer_id: str | None
    wallet_brand_name: str | None
    psp_id: str | None
    acquirer_id: str | None


def parse_notification(body: bytes) -> PaymentNotification:
    """Read a notifyPayment body (signature already checked by the caller)."""
    data = decode_object(body)
    request_id = data.get("paymentRequestId")
    if not isinstance(request_id, str) or not request_id:
        raise MessageError("paymentRequestId missing")
    if "paymentResult" not in data:
        raise MessageError("paymentResult missing")
    result = Result.from_json(require_object(data["paymentResult"], "paymentResult"))
    if result.status == "U":
        # Alipay+ notifies only final states; a U here is not something to act upon.
        raise MessageError("notification carries a non-final status U")
    return PaymentNotification(
        payment_request_id=request_id,
        payment_id=_opt_str(data, "paymentId"),
        payment_result=result,
        payment_amount=_opt_amount(data, "paymentAmount"),
        payment_time=_opt_str(data, "paymentTime"),
        customer_id=_opt_str(data, "customerId"),
        wallet_brand_name=_opt_str(data, "walletBrandName"),
        psp_id=_opt_str(data, "pspId"),
        acquirer_id=_opt_str(data, "acquirerId"),
    )
