"""notifyPayment from Alipay+: verified, checked against our payment, applied once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from adapter.alipayplus.messages import parse_notification
from adapter.alipayplus.models import ACK_BODY, MessageError
from adapter.alipayplus.notify import verify_notification
from adapter.core.context import Context
from adapter.core.outcomes import apply_payment_result
from adapter.model import Event, Hop
from adapter.observability.logs import bind_correlation


@dataclass(frozen=True)
class NotifyAnswer:
    body: bytes
    headers: dict[str, str]


def error_body(code: str, message: str) -> bytes:
    """A refusal's JSON body: the result Alipay+ reads, resultStatus F."""
    result = {"resultCode": code, "resultStatus": "F", "resultMessage": message}
    return json.dumps({"result": result}, separators=(",", ":")).encode()


def _answer(ctx: Context, uri: str, body: bytes) -> NotifyAnswer:
    return NotifyAnswer(body, ctx.notify_signer.headers(uri=uri, body=body, now=ctx.clock()))


async def handle_notification(
    ctx: Context, *, uri: str, headers: Mapping[str, str], body: bytes
) -> NotifyAnswer:
    """Only a verified notify for a known payment with the same amount changes anything."""
    received = ctx.clock()

    def verdict(code: str, pay_id: str | None = None) -> None:
        event = Event(received, Hop.ALIPAY_NOTIFY, "notifyPayment", code, pay_id=pay_id)
        ctx.journal.note(event)

    if not verify_notification(
        uri=uri, headers=headers, body=body, alipay_public_key=ctx.settings.alipay.alipay_public_key
    ):
        verdict("INVALID_SIGNATURE")
        return _answer(ctx, uri, error_body("INVALID_SIGNATURE", "signature not verified"))
    try:
        notification = parse_notification(body)
    except MessageError:
        verdict("PARAM_ILLEGAL")
        return _answer(ctx, uri, error_body("PARAM_ILLEGAL", "notification not understood"))
    bind_correlation(payment_request_id=notification.payment_request_id)
    payment = await ctx.payments.get(notification.payment_request_id)
    if payment is None:
        verdict("ORDER_NOT_EXIST")
        return _answer(ctx, uri, error_body("ORDER_NOT_EXIST", "paymentRequestId unknown"))
    amount = notification.payment_amount
    if amount is not None and (
        amount.value != payment.amount or amount.currency != payment.currency
    ):
        verdict("PARAM_ILLEGAL", payment.pay_id)
        return _answer(ctx, uri, error_body("PARAM_ILLEGAL", "paymentAmount differs"))
    bind_correlation(pay_id=payment.pay_id, merchant_id=payment.merchant_id)
    result = notification.payment_result
    verdict(f"{result.status} {result.code}", payment.pay_id)  # rides with the state it sets
    await apply_payment_result(ctx, payment, result, alipay_payment_id=notification.payment_id)
    return _answer(ctx, uri, ACK_BODY)
