"""Applying Alipay+ payment results to our payments: one final state, one shop notify."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import replace
from typing import Any

from adapter.alipayplus.messages import read_inquiry
from adapter.alipayplus.models import Result
from adapter.core.context import Context
from adapter.core.journal import payment_event
from adapter.errors import UpstreamUnknown
from adapter.model import OPEN_STATES, Payment, PaymentState, ShopNotice

log = logging.getLogger(__name__)


async def apply_payment_result(
    ctx: Context, payment: Payment, result: Result, *, alipay_payment_id: str | None = None
) -> Payment:
    """Record a final S/F result idempotently; returns the payment as now stored.

    A U result changes nothing. Once a cancel was requested, a success never wins.
    """
    if result.status == "U" or payment.state.is_final:
        return payment
    if result.status == "S" and not payment.cancel_requested:
        state = PaymentState.SUCCESS
    elif payment.cancel_requested:
        state = PaymentState.CANCELLED
    else:
        state = PaymentState.FAILED
    values: dict[str, Any] = {"result_code": result.code}
    if alipay_payment_id:
        values["alipay_payment_id"] = alipay_payment_id
    final = replace(payment, state=state, result_code=result.code)
    events = [payment_event(ctx.clock, payment, state, result.code)]
    notice = shop_notice(ctx, final)
    stored = await ctx.payments.finalize(
        payment.pay_id,
        state,
        now=ctx.clock(),
        from_states=OPEN_STATES,
        notice=notice,
        events=events,
        **values,
    )
    if stored is None:
        # Another notify, return or inquiry settled it first: theirs is the state.
        current = await ctx.payments.get(payment.pay_id)
        return current or payment
    ctx.journal.changed(events)
    if notice is not None:
        ctx.outbox_wakeup.set()
    return stored


async def keep_open(
    ctx: Context,
    payment: Payment,
    state: PaymentState,
    *,
    from_states: Collection[PaymentState] = OPEN_STATES,
    **values: Any,
) -> bool:
    """Move a still-open payment to another open state (PENDING, UNKNOWN); False if it left
    ``from_states`` meanwhile."""
    events = [payment_event(ctx.clock, payment, state)]
    moved = await ctx.payments.mark_open(
        payment.pay_id, state, now=ctx.clock(), from_states=from_states, events=events, **values
    )
    if moved:
        ctx.journal.changed(events)
    return moved


def shop_notice(ctx: Context, final: Payment) -> ShopNotice | None:
    """The URLNotify of the payment as it is about to be stored."""
    merchant = ctx.settings.merchant(final.merchant_id)
    if merchant is None:
        log.error(
            "payment %s: merchant %s is no longer configured", final.pay_id, final.merchant_id
        )
        return None
    return ctx.results.notice(merchant, final)


async def refresh_from_inquiry(ctx: Context, payment: Payment) -> Payment:
    """Ask Alipay+ for the payment's state and apply a final answer; unknown leaves it open."""
    try:
        reply = await ctx.alipay.inquiry_payment(payment.payment_request_id)
    except UpstreamUnknown:
        return payment
    if reply.result.status != "S":
        return payment
    status = read_inquiry(reply)
    if status.payment_result is None:
        return payment
    if status.payment_amount is not None and (
        status.payment_amount.value != payment.amount
        or status.payment_amount.currency != payment.currency
    ):
        return payment
    return await apply_payment_result(
        ctx, payment, status.payment_result, alipay_payment_id=status.payment_id
    )
