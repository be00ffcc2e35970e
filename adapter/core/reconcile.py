"""Reconciliation: open payments and steps are retried until Alipay+ answers definitely.

A notify can be lost, and a pay can end without a definite answer; this loop makes sure the
final state (and so the shop's URLNotify) arrives anyway. Credits and reversals left unknown are
re-sent with their own request ids until they are definite. A payment still open long after its
checkout expired is cancelled, so nobody can pay it any more.

Each payment and step carries its own schedule: first due ``reconcile_after_seconds`` after its
creation, then doubling up to ``reconcile_max_interval_seconds``, so a backlog after an Alipay+
outage is worked through quickly while rows that stay open are asked about less and less. A pass
claims due rows in the database, so the passes of several adapter processes divide the work, and
works on up to ``reconcile_concurrency`` of them at once. Anything sent upstream is sent under
the payment's lock, so a live request and every reconciler never send the same step together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from adapter.core.context import Context
from adapter.core.operations import cancel_unsettled, settle
from adapter.core.outcomes import keep_open, refresh_from_inquiry
from adapter.core.retries import Budget
from adapter.errors import LockBusy
from adapter.model import Event, Hop, Payment, PaymentState
from adapter.store.operations import DueStep
from adapter.store.payments import DuePayment

log = logging.getLogger(__name__)

# One re-send per look: a call with Alipay+'s recommended timeout for refund and cancelPayment.
STEP_BUDGET_SECONDS = 8.0
JITTER = 0.2  # checks of rows that fell due together spread out by up to ±20 %

Due = TypeVar("Due", DuePayment, DueStep)


def next_check(ctx: Context, checks: int) -> datetime:
    """When a row looked at ``checks`` times before this look is due again."""
    settings = ctx.settings
    delay = min(
        settings.reconcile_after_seconds * 2.0 ** min(checks, 30),
        settings.reconcile_max_interval_seconds,
    )
    spread = random.uniform(1 - JITTER, 1 + JITTER)
    return ctx.clock() + timedelta(seconds=delay * spread)


def _hold_for(ctx: Context) -> timedelta:
    """How long a claimed row stays out of other passes: longer than working on it takes."""
    return timedelta(seconds=2 * ctx.settings.operation_budget_seconds + 30)


async def _work_through(
    ctx: Context,
    claim: Callable[[int], Awaitable[Sequence[Due]]],
    work: Callable[[Due], Awaitable[bool]],
) -> int:
    """Claim due rows batch by batch and work on up to ``reconcile_concurrency`` at once;
    returns how many settled."""
    limit = ctx.settings.reconcile_concurrency
    slots = asyncio.Semaphore(limit)
    settled = 0

    async def run(due: Due) -> None:
        nonlocal settled
        try:
            with ctx.journal.unit():
                if await work(due):
                    settled += 1
        except Exception:
            log.exception("reconciling %s failed", due)
        finally:
            slots.release()

    async with asyncio.TaskGroup() as group:
        while not ctx.stopping.is_set():
            batch = await claim(limit)
            for due in batch:
                await slots.acquire()
                group.create_task(run(due))
            if len(batch) < limit:
                break
    return settled


async def _check_payment(ctx: Context, due: DuePayment) -> bool:
    payment = due.payment
    expired = ctx.clock() - timedelta(seconds=ctx.settings.cancel_open_after_seconds)
    refreshed = await refresh_from_inquiry(ctx, payment)
    if not refreshed.state.is_final and refreshed.created_at <= expired:
        refreshed = await _cancel_expired(ctx, refreshed)
    _looked(ctx, payment, refreshed.state.value, due.checks)
    if refreshed.state.is_final:
        return True
    await ctx.payments.checked(payment.pay_id, next_check_at=next_check(ctx, due.checks))
    return False


def _looked(ctx: Context, payment: Payment, found: str, checks: int, xid: str = "") -> None:
    detail: dict[str, str | int] = {"look": checks + 1}
    if xid:
        detail["xid"] = xid
    ctx.journal.note(
        Event(
            ctx.clock(),
            Hop.RECONCILER,
            "look",
            found,
            pay_id=payment.pay_id,
            merchant_id=payment.merchant_id,
            detail=detail,
        )
    )


async def _cancel_expired(ctx: Context, payment: Payment) -> Payment:
    try:
        # A request working on this payment right now goes first; the next look comes back.
        async with ctx.locks.hold(payment.pay_id, wait_seconds=0.05):
            return await cancel_unsettled(ctx, payment, budget=Budget(STEP_BUDGET_SECONDS))
    except LockBusy:
        return payment


async def _resend_step(ctx: Context, due: DueStep) -> bool:
    step = due.operation
    payment = await ctx.payments.get(step.pay_id)
    if payment is None:
        return False
    try:
        # A request working on this payment right now will settle the step itself.
        async with ctx.locks.hold(step.pay_id, wait_seconds=0.05):
            # That request may have settled it between our claim and taking the lock.
            current = await ctx.operations.get(step.xid)
            if current is None or current.state.is_final:
                return False
            current = await settle(ctx, payment, current, budget=Budget(STEP_BUDGET_SECONDS))
    except LockBusy:
        current = step
    _looked(ctx, payment, f"{step.kind.value} {current.state.value}", due.checks, step.xid)
    if current.state.is_final:
        return True
    await ctx.operations.checked(step.xid, next_check_at=next_check(ctx, due.checks))
    return False


async def _mark_cut_short(ctx: Context) -> None:
    """A checkout's pay attempts end after pay_budget_seconds; a payment still NEW long after
    that was cut short (a restart): from now on it is reconciled like any unanswered payment."""
    now = ctx.clock()
    cut_short = now - timedelta(seconds=2 * ctx.settings.pay_budget_seconds)
    for payment in await ctx.payments.new_payments_created_before(cut_short):
        log.warning("payment %s: its pay attempts were cut short, reconciling it", payment.pay_id)
        await keep_open(ctx, payment, PaymentState.UNKNOWN, from_states=[PaymentState.NEW])


async def reconcile_once(ctx: Context) -> int:
    """Inquire every open payment that is due, cancelling those open past their expiry;
    returns how many settled."""
    await _mark_cut_short(ctx)

    async def claim(limit: int) -> list[DuePayment]:
        return await ctx.payments.claim_due(now=ctx.clock(), hold_for=_hold_for(ctx), limit=limit)

    return await _work_through(ctx, claim, lambda due: _check_payment(ctx, due))


async def settle_open_steps(ctx: Context) -> int:
    """Re-send every open step that is due once; returns how many settled."""

    async def claim(limit: int) -> list[DueStep]:
        return await ctx.operations.claim_due(now=ctx.clock(), hold_for=_hold_for(ctx), limit=limit)

    return await _work_through(ctx, claim, lambda due: _resend_step(ctx, due))


async def _forget_old(ctx: Context) -> None:
    """Stored ReqId answers and journal rows past their retention."""
    now, settings = ctx.clock(), ctx.settings
    await ctx.replays.forget_finished_before(now - timedelta(days=settings.req_id_answer_days))
    await ctx.journal.store.forget_before(now - timedelta(days=settings.journal_days))


async def run_reconciler(ctx: Context, *, on_pass: Callable[[float], None] | None = None) -> None:
    """A pass every ``reconcile_interval_seconds`` until the process stops; a pass under way
    claims nothing new once it does, and finishes what it claimed. ``on_pass`` gets each pass's
    duration in seconds (for the metrics)."""
    settings = ctx.settings
    while not ctx.stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx.stopping.wait(), settings.reconcile_interval_seconds)
        if ctx.stopping.is_set():
            break
        try:
            await reconcile_once(ctx)
            await settle_open_steps(ctx)
            now = ctx.clock()
            await ctx.replays.forget_finished_before(
                now - timedelta(days=settings.req_id_answer_days)
            )
            await ctx.journal.store.forget_before(now - timedelta(days=settings.journal_days))
        except Exception:
            log.exception("reconciliation pass failed")
