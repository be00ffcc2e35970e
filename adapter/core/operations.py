"""credit.aspx and reverse.aspx: one Alipay+ refund or cancelPayment per Paygate step.

Each step is stored before Alipay+ is asked, with the id every retry reuses (the step's XID as
refundRequestId; the payment's paymentRequestId for a cancel). A step whose outcome stays
unknown is never reported FAILED: it stays open, a repeat of the same request retries it, and
the reconciler retries it until Alipay+ answers definitely.

A payment Alipay+ still has not settled well after its checkout expired is cancelled the same
way, by a reversal of our own (docs/alipayplus.md#unknown-outcomes).

A reversal whose payment was already reported CANCELLED to the shop must return the money: if
Alipay+ refuses the cancel because the shopper paid meanwhile, the step goes on as a refund of
the whole payment, with the step's XID as refundRequestId.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from typing import assert_never

from adapter.alipayplus.messages import read_refund
from adapter.alipayplus.models import Amount, Api, Reply, Result
from adapter.config import Merchant
from adapter.core.context import Context
from adapter.core.journal import payment_event, step_event
from adapter.core.outcomes import apply_payment_result, shop_notice
from adapter.core.retries import Budget, until_definite
from adapter.errors import LockBusy, UpstreamUnknown
from adapter.mapping import PaygateResult
from adapter.model import (
    Operation,
    OperationDetails,
    OperationKind,
    OperationState,
    Payment,
    PaymentState,
)
from adapter.paygate.errors import Category
from adapter.paygate.operations import Endpoint, OperationRequest
from adapter.store.operations import Joined, Refusal, Reserved

log = logging.getLogger(__name__)

# An F that does not prove the step did not happen: a refund with this id exists with other
# values. Left open for an operator rather than reported as failed.
UNCERTAIN_CODES = frozenset({"REPEAT_REQ_INCONSISTENT"})

_KIND = {Endpoint.CREDIT: OperationKind.CREDIT, Endpoint.REVERSE: OperationKind.REVERSE}
# Marks the reversal the adapter itself sends for a payment left unsettled past its expiry.
EXPIRY_CANCEL_REASON = "not settled before the checkout expired"


@dataclass(frozen=True)
class StepOutcome:
    """What to tell the shop: the step's XID (None when none was stored) and its result."""

    xid: str | None
    result: PaygateResult


def step_result(ctx: Context, op: Operation) -> PaygateResult:
    if op.state is OperationState.SUCCESS:
        return ctx.codes.alipay("SUCCESS", "S")
    if op.state is OperationState.FAILED:
        return ctx.codes.alipay(op.result_code or "PROCESS_FAIL", "F")
    return ctx.codes.adapter("operation_pending")


def _refused(ctx: Context, name: str) -> StepOutcome:
    return StepOutcome(None, ctx.codes.adapter(name))


def _invalid(ctx: Context, parameter: str, description: str) -> StepOutcome:
    code = ctx.codes.error_code(Category.INVALID, parameter)
    return StepOutcome(None, PaygateResult("FAILED", code, description))


async def _definite_reply(ctx: Context, payment: Payment, op: Operation, budget: Budget) -> Reply:
    """The step's upstream call, re-sent until definite; UpstreamUnknown when it never is."""
    refund = op.kind is OperationKind.CREDIT or op.refund_instead

    async def call() -> Reply:
        if refund:
            reply = await ctx.alipay.refund(
                payment.payment_request_id,
                op.refund_request_id,
                Amount(op.currency, op.amount),
                op.details.reason,
                timeout=budget.call_timeout(Api.REFUND.timeout),
            )
        else:
            reply = await ctx.alipay.cancel_payment(
                payment.payment_request_id,
                timeout=budget.call_timeout(Api.CANCEL_PAYMENT.timeout),
            )
        if reply.result.status == "U" or reply.result.code in UNCERTAIN_CODES:
            raise UpstreamUnknown(f"answered {reply.result.code}")
        return reply

    try:
        return await until_definite(budget, call)
    except UpstreamUnknown as exc:
        log.warning("%s %s had no definite answer: %s", op.kind, op.xid, exc.reason)
        raise


async def _record(ctx: Context, payment: Payment, op: Operation, reply: Reply) -> bool:
    """Store a definite answer; False when the step goes on (by a refund instead of a cancel)."""
    now = ctx.clock()
    code = reply.result.code
    succeeded = reply.result.status == "S"
    if op.kind is OperationKind.CREDIT:
        refund_id = read_refund(reply).refund_id if succeeded else None
        state = OperationState.SUCCESS if succeeded else OperationState.FAILED
        events = [step_event(ctx.clock, op, state, code)]
        if await ctx.operations.finish(
            op.xid, state, now=now, result_code=code, alipay_id=refund_id, events=events
        ):
            ctx.journal.changed(events)
    elif succeeded:
        refund_id = read_refund(reply).refund_id if op.refund_instead else None
        cancelled = replace(payment, state=PaymentState.CANCELLED, result_code=code)
        events = [
            step_event(ctx.clock, op, OperationState.SUCCESS, code),
            payment_event(ctx.clock, payment, PaymentState.CANCELLED, code),
        ]
        # Only an open payment's cancel is notified: a paid one was notified as paid.
        notice = None if payment.state.is_final else shop_notice(ctx, cancelled)
        if await ctx.operations.complete_reversal(
            op, now=now, result_code=code, notice=notice, alipay_id=refund_id, events=events
        ):
            ctx.journal.changed(events)
            if notice is not None:
                ctx.outbox_wakeup.set()
    elif op.refund_instead:
        await _fail_reversal(ctx, op, code)
        log.error(
            "payment %s: paid and told CANCELLED, but Alipay+ refused its cancel and its refund "
            "(%s): return the money by hand (paygate-adapter attention lists it)",
            payment.pay_id,
            code,
        )
    elif await _paid_but_cancelled(ctx, payment.pay_id):
        # A success notify was taken as cancelled while this cancel was open, so the shop was
        # told FAILED: the shopper's money must go back, by a refund now that cancel is refused.
        log.warning("payment %s: cancel refused (%s) after payment, refunding", op.pay_id, code)
        events = [step_event(ctx.clock, op, "refund_instead", code)]
        if await ctx.operations.refund_instead(op.xid, now=now, events=events):
            ctx.journal.changed(events)
        return False
    else:
        await _fail_reversal(ctx, op, code)
    return True


async def _fail_reversal(ctx: Context, op: Operation, code: str) -> None:
    events = [step_event(ctx.clock, op, OperationState.FAILED, code)]
    if await ctx.operations.fail_reversal(op, now=ctx.clock(), result_code=code, events=events):
        ctx.journal.changed(events)


async def _paid_but_cancelled(ctx: Context, pay_id: str) -> bool:
    current = await ctx.payments.get(pay_id)
    return (
        current is not None
        and current.state is PaymentState.CANCELLED
        and current.result_code == "SUCCESS"
    )


async def settle(ctx: Context, payment: Payment, op: Operation, *, budget: Budget) -> Operation:
    """Ask Alipay+ until the step is definite or the budget is spent; at least once."""
    while True:
        try:
            reply = await _definite_reply(ctx, payment, op, budget)
        except UpstreamUnknown:
            events = [step_event(ctx.clock, op, OperationState.UNKNOWN)]
            if await ctx.operations.mark_unknown(op.xid, now=ctx.clock(), events=events):
                ctx.journal.changed(events)
            break
        if await _record(ctx, payment, op, reply):
            break
        switched = await ctx.operations.get(op.xid)
        if switched is None or switched.state.is_final or not switched.refund_instead:
            break
        op = switched
    return await ctx.operations.get(op.xid) or op


async def _repeat_of(
    ctx: Context, request: OperationRequest, payment: Payment, kind: OperationKind
) -> Operation | None:
    """The stored step this request repeats, if any.

    With a ReqId, only the ReqId identifies a repeat (Spryker sends the order's TransID with a
    fresh ReqId for every credit). Without one, a TransID of the step's own identifies it, when
    the Amount is the same too; a TransID equal to the payment's names the order, not the step.
    """
    if request.req_id:
        return await ctx.operations.by_req_id(payment.merchant_id, kind, request.req_id)
    if request.trans_id is None or request.trans_id == payment.trans_id:
        return None
    found = await ctx.operations.by_trans_id(payment.pay_id, kind, request.trans_id)
    return found if found is not None and found.amount == request.amount else None


def _pending_step(
    ctx: Context,
    payment: Payment,
    kind: OperationKind,
    *,
    trans_id: str,
    amount: int,
    details: OperationDetails,
    req_id: str | None = None,
) -> Operation:
    """A new step of ``payment`` with its own XID, in the payment's currency."""
    now = ctx.clock()
    return Operation(
        xid=secrets.token_hex(16),
        pay_id=payment.pay_id,
        merchant_id=payment.merchant_id,
        kind=kind,
        trans_id=trans_id,
        amount=amount,
        currency=payment.currency,
        state=OperationState.PENDING,
        details=details,
        created_at=now,
        updated_at=now,
        req_id=req_id,
    )


def _new_step(ctx: Context, request: OperationRequest, payment: Payment) -> Operation:
    return _pending_step(
        ctx,
        payment,
        _KIND[request.endpoint],
        trans_id=request.trans_id or payment.trans_id,
        amount=request.amount or payment.amount,
        details=OperationDetails(
            ref_nr=request.ref_nr, user_data=request.user_data, reason=request.reason
        ),
        req_id=request.req_id,
    )


def _repeated(
    ctx: Context, request: OperationRequest, existing: Operation
) -> Operation | StepOutcome:
    if existing.pay_id != request.pay_id or existing.amount != request.amount:
        return _refused(ctx, "req_id_reused")
    return existing


async def _reserve(
    ctx: Context, request: OperationRequest, payment: Payment
) -> Operation | StepOutcome:
    kind = _KIND[request.endpoint]
    existing = await _repeat_of(ctx, request, payment, kind)
    if existing is not None:
        return _repeated(ctx, request, existing)
    step = _new_step(ctx, request, payment)
    events = [step_event(ctx.clock, step, OperationState.PENDING)]
    if kind is OperationKind.CREDIT:
        reservation = await ctx.operations.reserve_credit(step, paid=payment.amount, events=events)
    else:
        reservation = await ctx.operations.reserve_reversal(step, events=events)
    match reservation:
        case Reserved(operation=reserved):
            ctx.journal.changed(events)
            return reserved
        case Joined(operation=reserved):
            return reserved
        case Refusal.DUPLICATE:
            # A concurrent request with the same ReqId stored its step first: follow that one.
            existing = await _repeat_of(ctx, request, payment, kind)
            if existing is None:
                raise RuntimeError(f"{kind} for {payment.pay_id}: ReqId taken, no step has it")
            return _repeated(ctx, request, existing)
        case Refusal.EXCEEDS:
            return StepOutcome(None, ctx.codes.alipay("REFUND_AMOUNT_EXCEED", "F"))
        case Refusal.HAS_CREDITS:
            return _refused(ctx, "reversal_after_credit")
        case Refusal.NOT_ALLOWED if kind is OperationKind.CREDIT:
            return _refused(ctx, "not_refundable")
        case Refusal.NOT_ALLOWED:
            return _refused(ctx, "not_reversible")
        case _:
            assert_never(reservation)


async def cancel_unsettled(ctx: Context, payment: Payment, *, budget: Budget) -> Payment:
    """Cancel a payment Alipay+ has not settled long after its checkout expired.

    Asked once per payment. A cancel that succeeds ends the payment CANCELLED, so nothing can
    make it paid later; one still unknown is re-sent by the reconciler like any reversal. If
    Alipay+ knows no such payment, the pay never arrived there: the payment ends FAILED.
    """
    steps = await ctx.operations.for_payment(payment.pay_id)
    step = next((s for s in steps if s.details.reason == EXPIRY_CANCEL_REASON), None)
    if step is None:
        step = _pending_step(
            ctx,
            payment,
            OperationKind.REVERSE,
            trans_id=payment.trans_id,
            amount=payment.amount,
            details=OperationDetails(reason=EXPIRY_CANCEL_REASON),
        )
        events = [step_event(ctx.clock, step, OperationState.PENDING, "expired")]
        if not isinstance(await ctx.operations.reserve_reversal(step, events=events), Reserved):
            return payment  # a reversal the shop asked for is open: it decides
        ctx.journal.changed(events)
        log.warning(
            "payment %s: not settled since %s, cancelling", payment.pay_id, payment.created_at
        )
        step = await settle(ctx, payment, step, budget=budget)
    current = await ctx.payments.get(payment.pay_id) or payment
    if step.state is OperationState.FAILED and step.result_code == "ORDER_NOT_EXIST":
        unknown = Result("ORDER_NOT_EXIST", "F", "Alipay+ has no such payment")
        return await apply_payment_result(ctx, current, unknown)
    if step.state is OperationState.FAILED:
        log.error(
            "payment %s: not settled, and Alipay+ refused to cancel it (%s)",
            payment.pay_id,
            step.result_code,
        )
    return current


async def run_step(
    ctx: Context, merchant: Merchant, request: OperationRequest, payment: Payment
) -> StepOutcome:
    """Check the request against the payment, store the step and drive it to an outcome."""
    if request.currency != payment.currency:
        return _invalid(ctx, "Currency", "Currency differs from the payment")
    if request.endpoint is Endpoint.REVERSE and request.amount != payment.amount:
        # A reversal cancels the whole payment; a partial one does not exist at Alipay+.
        return StepOutcome(None, ctx.codes.adapter("amount_mismatch"))
    budget = Budget(ctx.settings.operation_budget_seconds)
    try:
        async with ctx.locks.hold(payment.pay_id, wait_seconds=budget.left()):
            reserved = await _reserve(ctx, request, payment)
            if isinstance(reserved, StepOutcome):
                return reserved
            step = reserved
            if not step.state.is_final:
                step = await settle(ctx, payment, step, budget=budget)
    except LockBusy:
        return _refused(ctx, "request_in_progress")
    return StepOutcome(step.xid, step_result(ctx, step))
