"""capture.aspx: an Alipay+ sale is captured the moment it is paid, so a capture only confirms.

Shops written for manual capture (bnl, Spryker with ``Capture=MANUAL``) call it before they
ship. Nothing goes to Alipay+. Alipay+ cannot capture less than was paid, so a partial capture
is refused with a hint to credit the rest: answering OK would tell the shop that only part of
the money was taken.
"""

from __future__ import annotations

from adapter.core.context import Context
from adapter.mapping import PaygateResult
from adapter.model import Payment, PaymentState
from adapter.paygate.operations import OperationRequest


def capture_result(ctx: Context, request: OperationRequest, payment: Payment) -> PaygateResult:
    if request.currency != payment.currency or (request.amount or 0) > payment.amount:
        return ctx.codes.adapter("amount_mismatch")
    if not payment.state.is_final:
        # It may still be paid: the final result follows by URLNotify, never FAILED here.
        return ctx.codes.adapter("pending")
    if payment.state is not PaymentState.SUCCESS:
        return ctx.codes.adapter("not_capturable")
    if payment.cancel_requested:
        return ctx.codes.adapter("request_in_progress")
    if request.amount != payment.amount:
        return ctx.codes.adapter("partial_capture")
    return ctx.codes.alipay("SUCCESS", "S")
