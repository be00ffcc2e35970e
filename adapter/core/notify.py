"""notifyPayment from Alipay+: verified, checked against our payment, applied once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from adapter.alipayplus.messages import parse_notification
from adapter.alipayplus.models import ACK_BODY, MessageError, Result
from adapter.alipayplus.notify import verify_notification
from adapter.core.context import Context
from adapter.core.outcomes import apply_payment_result, settle_notified
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

    def event(code: str, pay_id: str | None = None) -> Event:
        return Event(received, Hop.ALIPAY_NOTIFY, "notifyPayment", code, pay_id=pay_id)

    def verdict(code: str, pay_id: str | None = None) -> None:
        ctx.journal.note(event(code, pay_id))

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
    pay_id = notification.payment_request_id
    amount = notification.payment_amount
    result = notification.payment_result
    if result.status != "U":
        # The usual notify settles an open payment: one write, no read before it.
        price = None if amount is None else (amount.value, amount.currency)
        settled = await settle_notified(
            ctx,
            pay_id,
            result,
            price=price,
            alipay_payment_id=notification.payment_id,
            verdict=event(_verdict(result), pay_id),
        )
        if settled is not None:
            return _answer(ctx, uri, ACK_BODY)
    payment = await ctx.payments.get(pay_id)
    if payment is None:
        verdict("ORDER_NOT_EXIST")
        return _answer(ctx, uri, error_body("ORDER_NOT_EXIST", "paymentRequestId unknown"))
    if amount is not None and (
        amount.value != payment.amount or amount.currency != payment.currency
    ):
        verdict("PARAM_ILLEGAL", payment.pay_id)
        return _answer(ctx, uri, error_body("PARAM_ILLEGAL", "paymentAmount differs"))
    bind_correlation(pay_id=payment.pay_id, merchant_id=payment.merchant_id)
    verdict(_verdict(result), payment.pay_id)  # rides with the state it sets, if any
    await apply_payment_result(ctx, payment, result, alipay_payment_id=notification.payment_id)
    return _answer(ctx, uri, ACK_BODY)


def _verdict(result: Result) -> str:
    return f"{result.status} {result.code}"
