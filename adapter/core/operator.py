"""What operators do: resend shop notifications, reconcile payments now, and read a payment's
whole file and the overview. The console and the CLI both act through here; every action is
journalled with the operator's name (hop ``operator``, actor = the name).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from adapter.core.attention import Attention, find_attention
from adapter.core.context import Context
from adapter.core.inquire import Inquiry, summarise
from adapter.core.operations import cancel_unsettled, settle
from adapter.core.outbox import LEASE, OutboxWorker
from adapter.core.outcomes import refresh_from_inquiry
from adapter.core.reconcile import STEP_BUDGET_SECONDS
from adapter.core.retries import Budget
from adapter.errors import LockBusy
from adapter.model import Event, Hop, Operation, Payment, PaymentState
from adapter.store.payments import DueNotification, Notification, NotificationSelection
from adapter.store.queries import (
    AgeBand,
    Attempt,
    Bucket,
    NotifyBacklog,
    OperatorQueries,
    Volume,
)

log = logging.getLogger(__name__)

RESEND_CONCURRENCY = 8
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Actor:
    """Who acts, and through what (``console`` or ``cli``)."""

    name: str
    via: str


def queries(ctx: Context) -> OperatorQueries:
    return OperatorQueries(ctx.payments.db)


def _event(
    ctx: Context,
    actor: Actor,
    action: str,
    *,
    at: datetime | None = None,
    pay_id: str,
    merchant_id: str,
    outcome: str | None = None,
    **detail: str | int | None,
) -> Event:
    return Event(
        at=at or ctx.clock(),
        hop=Hop.OPERATOR,
        name=action,
        outcome=outcome,
        pay_id=pay_id,
        merchant_id=merchant_id,
        detail={"via": actor.via, **detail},
        actor=actor.name,
    )


# --- shop notifications ---------------------------------------------------------------------


async def requeue_notifications(
    ctx: Context,
    selection: NotificationSelection,
    actor: Actor,
    *,
    hold_for: timedelta | None = None,
) -> list[DueNotification]:
    """Make the selected undelivered notifications due now, journalled in the same transaction.

    Without ``hold_for`` this process's outbox is woken to deliver them at once; with it they are
    leased to the caller, who delivers them itself (:func:`resend_notifications`).
    """
    events: list[Event] = []

    def event_for(notification: Notification, merchant_id: str) -> Event:
        event = _event(
            ctx,
            actor,
            "resend notify",
            pay_id=notification.pay_id,
            merchant_id=merchant_id,
            outcome=notification.final_state.value,
            notification=notification.id,
            attempts=notification.attempts,
        )
        events.append(event)
        return event

    requeued = await ctx.payments.requeue_notifications(
        selection, now=ctx.clock(), hold_for=hold_for, event_for=event_for
    )
    ctx.journal.changed(events)
    if requeued and hold_for is None:
        ctx.outbox_wakeup.set()
    return requeued


@dataclass(frozen=True)
class Resent:
    """A notification after its new attempt."""

    notification: Notification
    attempt: Attempt | None

    @property
    def delivered(self) -> bool:
        return self.notification.status == "delivered"


async def resend_notifications(
    ctx: Context,
    selection: NotificationSelection,
    actor: Actor,
    worker: OutboxWorker,
    *,
    on_requeued: Callable[[int], None] | None = None,
    on_resent: Callable[[Resent], None] | None = None,
) -> list[Resent]:
    """Requeue the selection and deliver each notification once, now, through ``worker``;
    ``on_requeued`` hears how many were requeued, ``on_resent`` each outcome as it comes."""
    requeued = await requeue_notifications(ctx, selection, actor, hold_for=LEASE)
    if on_requeued is not None:
        on_requeued(len(requeued))
    read = queries(ctx)

    async def resend(notification: DueNotification) -> Resent:
        await worker.deliver(notification)
        after = await ctx.payments.notification(notification.id) or notification
        attempts = (await read.attempts([notification.id])).get(notification.id, [])
        resent = Resent(after, attempts[-1] if attempts else None)
        if on_resent is not None:
            on_resent(resent)
        return resent

    return await _bounded(requeued, resend, RESEND_CONCURRENCY)


# --- reconciling ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reconciled:
    """A payment before and after an operator's reconcile."""

    pay_id: str
    before: PaymentState | None
    after: PaymentState | None
    open_steps: int = 0  # credits and reversals still without a definite answer
    busy: bool = False  # other work held the payment's lock; nothing was asked
    error: str | None = None

    @property
    def settled(self) -> bool:
        """Nothing is left open: the payment is final and has no open step."""
        return self.after is not None and self.after.is_final and not self.open_steps

    @property
    def outcome(self) -> str:
        if self.error:
            return "error"
        if self.busy:
            return "busy"
        if self.after is None:
            return "not found"
        return self.after.value if self.settled else f"{self.after.value}, still open"


async def reconcile_payment(ctx: Context, pay_id: str, actor: Actor) -> Reconciled:
    """Do now what the reconciler would: under the payment's lock, ask Alipay+ about an open
    payment (cancelling it when open past its expiry) and re-send its open steps."""
    with ctx.journal.unit():
        return await _reconcile(ctx, pay_id, actor)


async def _reconcile(ctx: Context, pay_id: str, actor: Actor) -> Reconciled:
    started = ctx.clock()
    payment = await ctx.payments.get(pay_id)
    if payment is None:
        return Reconciled(pay_id, None, None)
    before = payment.state
    try:
        async with ctx.locks.hold(pay_id, wait_seconds=ctx.settings.operation_budget_seconds):
            await _settle_payment(ctx, payment)
    except LockBusy:
        result = Reconciled(pay_id, before, before, busy=True)
    else:
        after = await ctx.payments.get(pay_id) or payment
        steps = await ctx.operations.for_payment(pay_id)
        still_open = sum(1 for step in steps if not step.state.is_final)
        result = Reconciled(pay_id, before, after.state, open_steps=still_open)
    ctx.journal.note(
        _event(
            ctx,
            actor,
            "reconcile now",
            at=started,  # before the calls it made, in the timeline
            pay_id=pay_id,
            merchant_id=payment.merchant_id,
            outcome=result.outcome,
            was=before.value,
        )
    )
    return result


async def _settle_payment(ctx: Context, payment: Payment) -> None:
    if not payment.state.is_final:
        payment = await refresh_from_inquiry(ctx, payment)
        expired = ctx.clock() - timedelta(seconds=ctx.settings.cancel_open_after_seconds)
        if not payment.state.is_final and payment.created_at <= expired:
            payment = await cancel_unsettled(ctx, payment, budget=Budget(STEP_BUDGET_SECONDS))
    for step in await ctx.operations.for_payment(payment.pay_id):
        if not step.state.is_final:
            await settle(ctx, payment, step, budget=Budget(STEP_BUDGET_SECONDS))


async def reconcile_many(
    ctx: Context,
    pay_ids: Sequence[str],
    actor: Actor,
    *,
    on_reconciled: Callable[[Reconciled], None] | None = None,
) -> list[Reconciled]:
    """Reconcile each payment, ``reconcile_concurrency`` at a time; ``on_reconciled`` hears each
    outcome as it comes. One payment's failure is its outcome, not the end of the run."""

    async def one(pay_id: str) -> Reconciled:
        try:
            result = await reconcile_payment(ctx, pay_id, actor)
        except Exception as exc:
            log.exception("reconciling %s failed", pay_id)
            result = Reconciled(pay_id, None, None, error=type(exc).__name__)
        if on_reconciled is not None:
            on_reconciled(result)
        return result

    return await _bounded(pay_ids, one, ctx.settings.reconcile_concurrency)


async def _bounded(items: Iterable[T], work: Callable[[T], Awaitable[R]], limit: int) -> list[R]:
    """``work`` on every item, ``limit`` at a time; the results in the items' order."""
    numbered = list(enumerate(items))
    shared = iter(numbered)  # each worker takes the next item: every item is taken once
    results: dict[int, R] = {}

    async def worker() -> None:
        for number, item in shared:
            results[number] = await work(item)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(limit, len(numbered))):
            group.create_task(worker())
    return [results[number] for number in range(len(numbered))]


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationFile:
    notification: Notification
    attempts: list[Attempt]


@dataclass(frozen=True)
class PaymentFile:
    """Everything about one payment an operator looks at."""

    payment: Payment
    amounts: Inquiry  # paid (AmountCap) and credited (AmountCred), as inquire.aspx reports
    steps: list[Operation]
    notifications: list[NotificationFile]
    timeline: list[Event]  # every hop, in order


async def payment_file(ctx: Context, pay_id: str) -> PaymentFile | None:
    payment = await ctx.payments.get(pay_id)
    standing = await ctx.operations.standing(pay_id)
    if payment is None or standing is None:
        return None
    steps = await ctx.operations.for_payment(pay_id)
    notices = await ctx.payments.notifications_for(pay_id)
    attempts = await queries(ctx).attempts([n.id for n in notices])
    return PaymentFile(
        payment=payment,
        amounts=summarise(ctx.results, standing),
        steps=steps,
        notifications=[NotificationFile(n, attempts.get(n.id, [])) for n in notices],
        timeline=await ctx.journal.store.timeline(pay_id),
    )


@dataclass(frozen=True)
class Overview:
    now: datetime
    since: datetime
    buckets: list[Bucket]
    volumes: list[Volume]
    backlog: NotifyBacklog
    ages: list[AgeBand]
    attention: Attention


async def overview(ctx: Context, *, window: timedelta, slices: int) -> Overview:
    """The last ``window`` in ``slices`` slices, and what stands now. Slices start on whole
    multiples of their length (hours on the hour, days at midnight UTC); the last one is the
    current, partial one."""
    now = ctx.clock()
    length = timedelta(seconds=max(1, int(window.total_seconds()) // slices))
    until = EPOCH + -((EPOCH - now) // length) * length  # the end of the current slice
    since = until - slices * length
    read = queries(ctx)
    buckets, volumes = await read.activity(
        since=since, until=until, slice_seconds=int(length.total_seconds())
    )
    return Overview(
        now=now,
        since=since,
        buckets=buckets,
        volumes=volumes,
        backlog=await read.notify_backlog(now=now),
        ages=await read.open_by_age(now=now),
        attention=await find_attention(
            ctx.payments,
            ctx.operations,
            now=now,
            cancel_open_after=timedelta(seconds=ctx.settings.cancel_open_after_seconds),
        ),
    )
