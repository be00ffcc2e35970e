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
from adapter.model import OperationState, PaymentStanding, PaymentState


@dataclass(frozen=True)
class Inquiry:
    result: PaygateResult
    amount_auth: int
    amount_cap: int
    amount_cred: int
    currency: str
    last_status: str

    def amount_fields(self) -> dict[str, str]:
        """The inquire-only answer fields; amounts are digits, ``0`` when none."""
        return {
            "AmountAuth": str(self.amount_auth),
            "AmountCap": str(self.amount_cap),
            "AmountCred": str(self.amount_cred),
            "Currency": self.currency,
            "LastStatus": self.last_status,
        }


def summarise(results: ResultBuilder, standing: PaymentStanding) -> Inquiry:
    """What inquire reports for the payment where it stands."""
    result = results.outcome(standing)
    paid = standing.state is PaymentState.SUCCESS
    last_status: str
    if standing.state is PaymentState.CANCELLED or standing.last_step is None:
        # A cancelled payment is not paid, whatever step cancelled it.
        last_status = result.status
    else:
        last_status = "OK" if standing.last_step is OperationState.SUCCESS else "FAILED"
    return Inquiry(
        result=result,
        amount_auth=standing.amount if paid else 0,
        amount_cap=standing.amount if paid else 0,
        amount_cred=standing.credited if paid else 0,
        currency=standing.currency,
        last_status=last_status,
    )


async def inquire(ctx: Context, standing: PaymentStanding) -> Inquiry:
    """What to answer; a payment that is still open is first asked about upstream."""
    if not standing.state.is_final:
        payment = await ctx.payments.get(standing.pay_id)
        if payment is not None:
            await refresh_from_inquiry(ctx, payment)
        standing = await ctx.operations.standing(standing.pay_id) or standing
    return summarise(ctx.results, standing)
