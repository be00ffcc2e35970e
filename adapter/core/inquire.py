"""inquire.aspx: the payment's state, its amounts and its last step.

Status follows Computop's Alipay+ page (docs/paygate.md#inquire-answer): OK once paid, FAILED
when failed or cancelled, AUTHORIZE_REQUEST while open. An open payment is asked about with
inquiryPayment first, so a shop that polls inquire sees the final state even when the notify
was lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapter.core.context import Context
from adapter.core.outcomes import refresh_from_inquiry
from adapter.core.results import ResultBuilder
from adapter.mapping import PaygateResult
from adapter.model import Operation, OperationKind, OperationState, Payment, PaymentState


@dataclass(frozen=True)
class Inquiry:
    payment: Payment
    result: PaygateResult
    amount_auth: int
    amount_cap: int
    amount_cred: int
    last_status: str

    def amount_fields(self) -> dict[str, str]:
        """The inquire-only answer fields; amounts are digits, ``0`` when none."""
        return {
            "AmountAuth": str(self.amount_auth),
            "AmountCap": str(self.amount_cap),
            "AmountCred": str(self.amount_cred),
            "Currency": self.payment.currency,
            "LastStatus": self.last_status,
        }


def _step_status(op: Operation) -> str:
    return "OK" if op.state is OperationState.SUCCESS else "FAILED"


def summarise(results: ResultBuilder, payment: Payment, steps: list[Operation]) -> Inquiry:
    """What inquire reports for the payment and its steps (oldest first)."""
    result = results.outcome(payment)
    paid = payment.state is PaymentState.SUCCESS
    credited = sum(
        op.amount
        for op in steps
        if op.kind is OperationKind.CREDIT and op.state is OperationState.SUCCESS
    )
    finished = [op for op in steps if op.state.is_final]
    last_status: str
    if payment.state is PaymentState.CANCELLED or not finished:
        # A cancelled payment is not paid, whatever step cancelled it.
        last_status = result.status
    else:
        last_status = _step_status(finished[-1])
    return Inquiry(
        payment=payment,
        result=result,
        amount_auth=payment.amount if paid else 0,
        amount_cap=payment.amount if paid else 0,
        amount_cred=credited if paid else 0,
        last_status=last_status,
    )


async def inquire(ctx: Context, payment: Payment, steps: list[Operation]) -> Inquiry:
    """What to answer; ``steps`` were read with ``payment`` (one read when it is final)."""
    if not payment.state.is_final:
        payment = await refresh_from_inquiry(ctx, payment)
        steps = await ctx.operations.for_payment(payment.pay_id)
    return summarise(ctx.results, payment, steps)
