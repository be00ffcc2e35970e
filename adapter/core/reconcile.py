"""Reconciliation: open payments and steps are retried until Alipay+ answers definitely.

A notify can be lost, and a pay can end without a definite answer; this loop makes sure the
final state (and so the shop's one URLNotify) arrives anyway. Credits and reversals left unknown
are re-sent with their own request ids until they are definite. A payment still open long after
its checkout expired is cancelled, so nobody can pay it any more. Finalising is conditional on the
stored state, so several adapter processes running this loop cannot apply a result twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from adapter.core.context import Context
from adapter.core.operations import cancel_unsettled, settle
from adapter.core.outcomes import refresh_from_inquiry
from adapter.errors import LockBusy
from adapter.model import Payment, PaymentState

log = logging.getLogger(__name__)

STEP_ATTEMPT_SECONDS = 8.0  # Alipay+'s recommended timeout for refund and cancelPayment


async def reconcile_once(ctx: Context) -> int:
    """Inquire every payment open for longer than the grace period, and cancel those open past
    their expiry; returns how many settled."""
    now = ctx.clock()
    cutoff = now - timedelta(seconds=ctx.settings.reconcile_after_seconds)
    expired = now - timedelta(seconds=ctx.settings.cancel_open_after_seconds)
    settled = 0
    # A checkout's pay attempts end after pay_budget_seconds; one still NEW long after that was
    # cut short (a restart): from now on it is reconciled like any payment without an answer.
    cut_short = now - timedelta(seconds=2 * ctx.settings.pay_budget_seconds)
    for payment in await ctx.payments.new_payments_created_before(cut_short):
        log.warning("payment %s: its pay attempts were cut short, reconciling it", payment.pay_id)
        await ctx.payments.mark_open(
            payment.pay_id, PaymentState.UNKNOWN, now=now, from_states=[PaymentState.NEW]
        )
    for payment in await ctx.payments.open_payments_older_than(cutoff):
        refreshed = await refresh_from_inquiry(ctx, payment)
        if not refreshed.state.is_final and refreshed.created_at <= expired:
            refreshed = await _cancel_expired(ctx, refreshed)
        if refreshed.state.is_final:
            settled += 1
            log.info("reconciled pay_id=%s state=%s", refreshed.pay_id, refreshed.state)
        else:
            await ctx.payments.touch(payment.pay_id, now=ctx.clock())
    return settled


async def _cancel_expired(ctx: Context, payment: Payment) -> Payment:
    try:
        # A request working on this payment right now goes first; the next pass comes back.
        async with ctx.locks.hold(payment.pay_id, wait_seconds=0.05):
            deadline = time.monotonic() + STEP_ATTEMPT_SECONDS
            return await cancel_unsettled(ctx, payment, deadline=deadline)
    except LockBusy:
        return payment


async def settle_open_steps(ctx: Context) -> int:
    """Re-send every step open for longer than the grace period once; returns how many settled."""
    cutoff = ctx.clock() - timedelta(seconds=ctx.settings.reconcile_after_seconds)
    settled = 0
    for step in await ctx.operations.open_older_than(cutoff):
        payment = await ctx.payments.get(step.pay_id)
        if payment is None:
            continue
        try:
            # A request working on this payment right now will settle the step itself.
            async with ctx.locks.hold(step.pay_id, wait_seconds=0.05):
                # That request may have settled it between our query and taking the lock.
                still_open = await ctx.operations.get(step.xid)
                if still_open is None or still_open.state.is_final:
                    continue
                deadline = time.monotonic() + STEP_ATTEMPT_SECONDS
                current = await settle(ctx, payment, still_open, deadline=deadline)
        except LockBusy:
            continue
        if current.state.is_final:
            settled += 1
            log.info("reconciled %s xid=%s state=%s", step.kind, step.xid, current.state)
        else:
            await ctx.operations.touch(step.xid, now=ctx.clock())
    return settled


async def run_reconciler(ctx: Context) -> None:
    while True:
        await asyncio.sleep(ctx.settings.reconcile_interval_seconds)
        try:
            await reconcile_once(ctx)
            await settle_open_steps(ctx)
            keep = timedelta(days=ctx.settings.req_id_answer_days)
            await ctx.replays.forget_finished_before(ctx.clock() - keep)
        except Exception:
            log.exception("reconciliation pass failed")
