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
from adapter.model import OPEN_STATES, Event, Payment, PaymentState, ShopNotice
from adapter.observability.logs import bind_correlation
from adapter.store.payments import Settling

log = logging.getLogger(__name__)


async def apply_payment_result(
    ctx: Context, payment: Payment, result: Result, *, alipay_payment_id: str | None = None
) -> Payment:
    """Record a final S/F result idempotently; returns the payment as now stored.

    A U result changes nothing. Once a cancel was requested, a success never wins.
    """
    if result.status == "U" or payment.state.is_final:
        return payment
    state = final_state(result, cancel_requested=payment.cancel_requested)
    values = _result_values(result, alipay_payment_id)
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
    return stored


def final_state(result: Result, *, cancel_requested: bool) -> PaymentState:
    """The state an S or F result settles a payment in: once a cancel was requested, a success
    never wins."""
    if cancel_requested:
        return PaymentState.CANCELLED
    return PaymentState.SUCCESS if result.status == "S" else PaymentState.FAILED


def _result_values(result: Result, alipay_payment_id: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {"result_code": result.code}
    if alipay_payment_id:
        values["alipay_payment_id"] = alipay_payment_id
    return values


async def settle_notified(
    ctx: Context,
    pay_id: str,
    result: Result,
    *,
    price: tuple[int, str] | None,
    alipay_payment_id: str | None,
    verdict: Event,
) -> Payment | None:
    """Apply a notify's S or F result in one write, without reading the payment first: only
    if the payment is open and, with a ``price`` (amount, currency), costs that. ``verdict``
    (the notify's own event) is written with the state it sets. The payment as now stored, or
    None when nothing was written: the caller reads the payment to tell why.
    """
    written: list[Event] = []

    def complete(stored: Payment) -> tuple[ShopNotice | None, list[Event]]:
        nonlocal written
        written = [verdict, payment_event(ctx.clock, stored, stored.state, result.code)]
        return shop_notice(ctx, stored), written

    states = Settling(
        otherwise=final_state(result, cancel_requested=False),
        if_cancel_requested=final_state(result, cancel_requested=True),
    )
    stored = await ctx.payments.settle(
        pay_id,
        states,
        price=price,
        now=ctx.clock(),
        from_states=OPEN_STATES,
        complete=complete,
        **_result_values(result, alipay_payment_id),
    )
    if stored is not None:
        bind_correlation(pay_id=stored.pay_id, merchant_id=stored.merchant_id)
        ctx.journal.changed(written)
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
