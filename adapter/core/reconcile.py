"""Reconciliation: open payments are asked about with inquiryPayment until they are final.

A notify can be lost, and a pay can end without a definite answer; this loop makes sure the
final state (and so the shop's one URLNotify) arrives anyway. Finalising is conditional on the
stored state, so several adapter processes running this loop cannot apply a result twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from adapter.core.context import Context
from adapter.core.outcomes import refresh_from_inquiry

log = logging.getLogger(__name__)


async def reconcile_once(ctx: Context) -> int:
    """Inquire every payment open for longer than the grace period; returns how many settled."""
    cutoff = ctx.clock() - timedelta(seconds=ctx.settings.reconcile_after_seconds)
    settled = 0
    for payment in await ctx.store.open_payments_older_than(cutoff):
        refreshed = await refresh_from_inquiry(ctx, payment)
        if refreshed.state.is_final:
            settled += 1
            log.info("reconciled pay_id=%s state=%s", refreshed.pay_id, refreshed.state)
        else:
            await ctx.store.touch(payment.pay_id, now=ctx.clock())
    return settled


async def run_reconciler(ctx: Context) -> None:
    while True:
        await asyncio.sleep(ctx.settings.reconcile_interval_seconds)
        try:
            await reconcile_once(ctx)
        except Exception:
            log.exception("reconciliation pass failed")
