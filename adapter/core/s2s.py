"""What reverse.aspx, credit.aspx, capture.aspx and inquire.aspx share: envelope, answer, ReqId.

Every answer to a known merchant is ``Len=…&Data=…`` (pretix raises on a body without Data),
echoes the request's TransID, RefNr and UserData, and never carries an empty PayID
(docs/paygate.md#server-to-server-endpoints). A PayID of another merchant is answered exactly
like an unknown one.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import assert_never

from adapter.config import Merchant
from adapter.core.capture import capture_result
from adapter.core.context import Context
from adapter.core.inquire import inquire
from adapter.core.operations import run_step
from adapter.mapping import PaygateResult
from adapter.model import Event, Hop, Payment, PaymentStanding
from adapter.observability.logs import bind_correlation
from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.fields import Fields
from adapter.paygate.operations import (
    Echo,
    Endpoint,
    OperationRequest,
    validate_operation_request,
)
from adapter.paygate.request import decode_request, outer_merchant_id, verify_request_mac
from adapter.paygate.response import (
    encrypt_response,
    plain_description,
    plain_error_body,
    s2s_body,
)
from adapter.paygate.validation import is_pay_id
from adapter.store.replays import Busy, Claimed, Finished, ReplayKey

log = logging.getLogger(__name__)

REPLAY_POLL_SECONDS = 0.05
_NO_ECHO = Echo(pay_id="", trans_id="", ref_nr="", user_data="")


@dataclass(frozen=True)
class Answer:
    body: str
    final: bool  # only a final answer is kept for ReqId replay
    code: str | None  # the Paygate Code; None for a replayed answer (the bytes are opaque)
    status: str = "FAILED"


def _plain_error(ctx: Context, merchant_id: str, error: PaygateError) -> Answer:
    code = ctx.codes.error_code(error.category, error.parameter)
    body = plain_error_body(merchant_id, "FAILED", code, plain_description(error.reason))
    return Answer(body, final=True, code=code)


def plain_error(ctx: Context, merchant_id: str, error: PaygateError) -> str:
    """The answer when no merchant key is known: plain, as the original does."""
    return _plain_error(ctx, merchant_id, error).body


def _encrypted(
    ctx: Context,
    merchant: Merchant,
    echo: Echo,
    result: PaygateResult,
    *,
    xid: str | None = None,
    extra: dict[str, str] | None = None,
) -> Answer:
    fields = {
        "mid": merchant.merchant_id,
        "PayID": echo.pay_id or secrets.token_hex(16),
        "XID": xid or secrets.token_hex(16),
        "TransID": echo.trans_id,
        "refnr": echo.ref_nr,
        "Status": result.status,
        "Description": result.description,
        "Code": result.code,
        "UserData": echo.user_data,
        **(extra or {}),
    }
    length, data = encrypt_response(
        fields, merchant.signing_key.reveal_bytes(), ctx.results.cipher(merchant)
    )
    return Answer(
        s2s_body(length, data), final=not result.is_pending, code=result.code, status=result.status
    )


def _refusal(ctx: Context, merchant: Merchant, echo: Echo, error: PaygateError) -> Answer:
    code = ctx.codes.error_code(error.category, error.parameter)
    result = PaygateResult("FAILED", code, plain_description(error.reason))
    return _encrypted(ctx, merchant, echo, result)


# What a request names: for inquire, where the payment stands; for a step, the payment.
_Subject = Payment | PaymentStanding


async def _merchant_payment(
    ctx: Context, merchant: Merchant, endpoint: Endpoint, pay_id: str
) -> _Subject | None:
    if not is_pay_id(pay_id):
        return None
    subject: _Subject | None
    if endpoint is Endpoint.INQUIRE:
        subject = await ctx.operations.standing(pay_id)
    else:
        subject = await ctx.payments.get(pay_id)
    if subject is None or subject.merchant_id != merchant.merchant_id:
        return None
    return subject


async def _answer(
    ctx: Context,
    merchant: Merchant,
    request: OperationRequest,
    echo: Echo,
    subject: _Subject | None,
) -> Answer:
    if subject is None:
        return _encrypted(ctx, merchant, echo, ctx.codes.adapter("unknown_payment"))
    if isinstance(subject, PaymentStanding):
        inquiry = await inquire(ctx, subject)
        # What the shop left out of the request, the answer tells from the payment.
        echo = Echo(
            pay_id=echo.pay_id,
            trans_id=echo.trans_id or subject.trans_id,
            ref_nr=echo.ref_nr or subject.ref_nr or "",
            user_data=echo.user_data,
        )
        return _encrypted(
            ctx, merchant, echo, inquiry.result, xid=subject.xid, extra=inquiry.amount_fields()
        )
    if request.endpoint is Endpoint.CAPTURE:
        result = capture_result(ctx, request, subject)
        return _encrypted(ctx, merchant, echo, result, xid=subject.xid)
    outcome = await run_step(ctx, merchant, request, subject)
    return _encrypted(ctx, merchant, echo, outcome.result, xid=outcome.xid)


async def _replayed(
    ctx: Context,
    merchant: Merchant,
    request: OperationRequest,
    echo: Echo,
    subject: _Subject | None,
    req_id: str,
) -> Answer:
    """Run the request once per ReqId; repeats get the stored bytes or wait for the first."""
    key = ReplayKey(merchant.merchant_id, request.endpoint.value, req_id)
    budget = ctx.settings.operation_budget_seconds
    lease = timedelta(seconds=2 * budget + 30)
    give_up = time.monotonic() + budget
    while True:
        claim = await ctx.replays.claim(key, request.fingerprint, now=ctx.clock(), lease=lease)
        match claim:
            case Claimed():
                break
            case Finished() | Busy() if claim.fingerprint != request.fingerprint:
                return _encrypted(ctx, merchant, echo, ctx.codes.adapter("req_id_reused"))
            case Finished(body=body):
                return Answer(body, final=True, code=None, status="replayed")
            case Busy():
                if time.monotonic() >= give_up:
                    return _encrypted(ctx, merchant, echo, ctx.codes.adapter("request_in_progress"))
                await asyncio.sleep(REPLAY_POLL_SECONDS)
            case _:
                assert_never(claim)
    try:
        answer = await _answer(ctx, merchant, request, echo, subject)
    except BaseException:
        await ctx.replays.release(key)
        raise
    if answer.final:
        await ctx.replays.finish(key, answer.body)
    else:
        await ctx.replays.release(key)
    return answer


@dataclass(frozen=True)
class _Handled:
    """An answer, with whom and what it was about, as far as the request proved it."""

    answer: Answer
    merchant_id: str | None = None
    pay_id: str | None = None  # only once the MAC verified


async def handle_operation(ctx: Context, endpoint: Endpoint, outer: Fields) -> str:
    """The answer body for one S2S request; the request is journalled (inquire: counted only)."""
    received = ctx.clock()
    handled = await _operation(ctx, endpoint, outer)
    ctx.journal.note(
        Event(
            at=received,
            hop=Hop.SHOP_REQUEST,
            name=endpoint.value,
            outcome=handled.answer.code,
            pay_id=handled.pay_id,
            merchant_id=handled.merchant_id,
            detail={"status": handled.answer.status},
            routine=endpoint is Endpoint.INQUIRE,
        )
    )
    return handled.answer.body


async def _operation(ctx: Context, endpoint: Endpoint, outer: Fields) -> _Handled:
    try:
        merchant_id = outer_merchant_id(outer)
    except PaygateError as error:
        return _Handled(_plain_error(ctx, "", error))
    merchant = ctx.settings.merchant(merchant_id)
    if merchant is None:
        unknown = PaygateError(Category.NOT_ALLOWED, "MerchantID", "MerchantID is not known")
        return _Handled(_plain_error(ctx, merchant_id, unknown))
    try:
        raw = decode_request(outer, ctx.results.cipher(merchant))
    except PaygateError as error:
        return _Handled(_refusal(ctx, merchant, _NO_ECHO, error), merchant_id)
    echo = Echo.of(raw.fields)
    try:
        subject = await _merchant_payment(ctx, merchant, endpoint, echo.pay_id)
        # Spryker signs the inquired payment's Amount and Currency without sending them.
        signed = subject if endpoint is Endpoint.INQUIRE else None
        try:
            verify_request_mac(
                raw,
                [key.reveal_bytes() for key in merchant.hmac_keys],
                scheme=endpoint.mac_scheme,
                stored_amount=signed.amount if signed else None,
                stored_currency=signed.currency if signed else None,
            )
            request = validate_operation_request(raw, endpoint)
        except PaygateError as error:
            return _Handled(_refusal(ctx, merchant, echo, error), merchant_id)
        pay_id = subject.pay_id if subject else None
        bind_correlation(merchant_id=merchant_id, trans_id=request.trans_id, pay_id=pay_id)
        if request.req_id is None or not endpoint.changes_money:
            answer = await _answer(ctx, merchant, request, echo, subject)
        else:
            answer = await _replayed(ctx, merchant, request, echo, subject, request.req_id)
        return _Handled(answer, merchant_id, pay_id)
    except Exception:
        # Whatever broke, a step may have been stored: never FAILED, the repeat tells.
        log.exception("%s for merchant %s failed", endpoint.value, merchant.merchant_id)
        pending = ctx.codes.adapter("operation_pending")
        return _Handled(_encrypted(ctx, merchant, echo, pending), merchant_id)
