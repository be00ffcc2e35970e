"""The shopper comes back from the Alipay+ checkout: hand the shop its result."""

from __future__ import annotations

import asyncio
import time

from adapter.core.checkout import ErrorPage, pay_id_from_token, stored_delivery
from adapter.core.context import Context
from adapter.core.outcomes import refresh_from_inquiry
from adapter.core.results import ShopDelivery
from adapter.model import Event, Hop
from adapter.observability.logs import bind_correlation

INQUIRY_INTERVAL_SECONDS = 0.5


async def handle_return(ctx: Context, token: str) -> ShopDelivery | ErrorPage:
    """Final state → URLSuccess/URLFailure; still open after a short wait → AUTHORIZE_REQUEST."""
    received = ctx.clock()
    outcome = await _handle_return(ctx, token)
    ctx.journal.note(
        Event(
            at=received,
            hop=Hop.SHOP_REQUEST,
            name="return",
            outcome=outcome.code,
            pay_id=outcome.pay_id if isinstance(outcome, ShopDelivery) else None,
        )
    )
    return outcome


async def _handle_return(ctx: Context, token: str) -> ShopDelivery | ErrorPage:
    pay_id = pay_id_from_token(ctx, token)
    payment = await ctx.payments.get(pay_id) if pay_id else None
    merchant = ctx.settings.merchant(payment.merchant_id) if payment else None
    if payment is None or merchant is None:
        return ErrorPage(ctx.codes.adapter("unknown_payment").code, "this return link is not valid")
    bind_correlation(merchant_id=payment.merchant_id, pay_id=payment.pay_id)
    deadline = time.monotonic() + ctx.settings.return_wait_seconds
    while not payment.state.is_final:
        payment = await refresh_from_inquiry(ctx, payment)
        if payment.state.is_final or time.monotonic() + INQUIRY_INTERVAL_SECONDS > deadline:
            break
        await asyncio.sleep(INQUIRY_INTERVAL_SECONDS)
        payment = await ctx.payments.get(payment.pay_id) or payment
    return stored_delivery(ctx, merchant, payment)
