"""What needs an operator: money to return by hand, and steps Alipay+ has not settled yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from adapter.model import Operation, Payment
from adapter.store.operations import OperationStore
from adapter.store.payments import Notification, PaymentStore

SHOWN = 1000  # of each list


@dataclass(frozen=True)
class Attention:
    # Paid, reported CANCELLED to the shop, and Alipay+ refused both the cancel and the refund.
    stranded: list[Operation]
    # Credits and reversals without a definite answer yet; the reconciler keeps re-sending them.
    open_steps: list[Operation]
    # Open past the time they are cancelled: the cancel is still unknown, or Alipay+ refused it.
    overdue: list[Payment]
    # Shop notifications whose retries ran out: the shop never took them.
    dead: list[Notification]

    @property
    def money_to_return(self) -> bool:
        return bool(self.stranded)


async def find_attention(
    payments: PaymentStore,
    operations: OperationStore,
    *,
    now: datetime,
    cancel_open_after: timedelta,
) -> Attention:
    return Attention(
        stranded=await operations.stranded_reversals(),
        open_steps=await operations.open_older_than(now, limit=SHOWN),
        overdue=await payments.open_payments_created_before(now - cancel_open_after, limit=SHOWN),
        dead=await payments.dead_notifications(limit=SHOWN),
    )


def _describe_payment(payment: Payment, *, now: datetime) -> str:
    age = int((now - payment.created_at).total_seconds())
    return (
        f"pay_id={payment.pay_id} merchant={payment.merchant_id} "
        f"amount={payment.amount} {payment.currency} state={payment.state.value} "
        f"trans_id={payment.trans_id} created={age}s ago"
    )


def _describe_step(step: Operation, *, now: datetime) -> str:
    age = int((now - step.updated_at).total_seconds())
    return (
        f"pay_id={step.pay_id} merchant={step.merchant_id} {step.kind.value} xid={step.xid} "
        f"amount={step.amount} {step.currency} state={step.state.value} "
        f"code={step.result_code or '-'} trans_id={step.trans_id} last_change={age}s ago"
    )


def report(attention: Attention, *, now: datetime) -> list[str]:
    lines: list[str] = []
    if attention.stranded:
        lines.append(
            "Money to return by hand (the shopper paid, the shop was told CANCELLED, and "
            "Alipay+ refused the cancel and the refund):"
        )
        lines += [f"  {_describe_step(step, now=now)}" for step in attention.stranded]
    if attention.open_steps:
        lines.append("Steps Alipay+ has not settled yet (the reconciler keeps re-sending them):")
        lines += [f"  {_describe_step(step, now=now)}" for step in attention.open_steps]
    if attention.overdue:
        lines.append(
            "Payments open past their expiry (their cancel is still unknown, or was refused):"
        )
        lines += [f"  {_describe_payment(payment, now=now)}" for payment in attention.overdue]
    if attention.dead:
        lines.append("Shop notifications whose retries ran out (the shop never answered 2xx):")
        lines += [
            f"  pay_id={n.pay_id} state={n.final_state.value} attempts={n.attempts} url={n.url}"
            for n in attention.dead
        ]
    return lines or ["Nothing needs attention."]
