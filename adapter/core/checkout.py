"""alipayplus.aspx: validate the shop's request, store the payment, create the Alipay+ order."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import assert_never

from itsdangerous import URLSafeSerializer

from adapter.alipayplus.messages import PayMerchant, PayOrder, PayShipping, read_pay
from adapter.alipayplus.models import Amount, Api, Reply
from adapter.config import Merchant
from adapter.core.context import Context
from adapter.core.journal import payment_event
from adapter.core.outcomes import apply_payment_result, keep_open
from adapter.core.results import ShopDelivery
from adapter.core.retries import Budget, until_definite
from adapter.core.urls import allowed_url, notify_target
from adapter.errors import DuplicateTransID, UpstreamUnknown
from adapter.model import Event, Hop, Payment, PaymentState, ShopDetails
from adapter.observability.logs import bind_correlation
from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.fields import Fields
from adapter.paygate.request import (
    RawRequest,
    decode_request,
    outer_merchant_id,
    verify_request_mac,
)
from adapter.paygate.response import plain_description
from adapter.paygate.screening import echoable
from adapter.paygate.validation import PaymentRequest, validate_payment_request

log = logging.getLogger(__name__)

RETRYABLE_CODES = frozenset({"UNKNOWN_EXCEPTION", "REQUEST_TRAFFIC_EXCEED_LIMIT"})


@dataclass(frozen=True)
class Redirect:
    """Send the shopper's browser to the Alipay+ checkout."""

    url: str
    pay_id: str


@dataclass(frozen=True)
class ErrorPage:
    """No trustworthy URLFailure: show the Paygate code and a plain reason."""

    code: str
    reason: str


CheckoutOutcome = Redirect | ShopDelivery | ErrorPage


def return_token(ctx: Context, pay_id: str) -> str:
    return str(URLSafeSerializer(ctx.settings.token_secret.reveal(), salt="return").dumps(pay_id))


def pay_id_from_token(ctx: Context, token: str) -> str | None:
    serializer = URLSafeSerializer(ctx.settings.token_secret.reveal(), salt="return")
    ok, value = serializer.loads_unsafe(token)
    return value if ok and isinstance(value, str) else None


def _error_page(ctx: Context, error: PaygateError) -> ErrorPage:
    return ErrorPage(ctx.codes.error_code(error.category, error.parameter), error.reason)


def _failure_delivery(
    ctx: Context, merchant: Merchant, raw: RawRequest, error: PaygateError
) -> CheckoutOutcome:
    """An invalid request with a valid MAC: an encrypted FAILED result to URLFailure.

    Only echoable values go back (:func:`adapter.paygate.screening.echoable`): without a TransID
    to match it by, the shop could not use the result, so the shopper sees the error page.
    """
    trans_id = echoable(raw.fields.get("TransID"))
    try:
        url_failure = allowed_url(merchant, raw.fields.get("URLFailure") or "", "URLFailure")
    except PaygateError:
        return _error_page(ctx, error)
    if not trans_id:
        return _error_page(ctx, error)
    code = ctx.codes.error_code(error.category, error.parameter)
    fields = {
        "mid": merchant.merchant_id,
        # Never empty, even for a refused request (docs/paygate.md#compatibility-checklist).
        "PayID": secrets.token_hex(16),
        "XID": secrets.token_hex(16),
        "TransID": trans_id,
        "refnr": echoable(raw.fields.get("RefNr")),
        "Status": "FAILED",
        "Description": plain_description(error.reason),
        "Code": code,
        "UserData": echoable(raw.fields.get("UserData")),
    }
    pairs = ctx.results.encrypted_pairs(
        merchant, fields, custom=raw.fields.get("Custom"), plain=echoable(raw.fields.get("Plain"))
    )
    return ShopDelivery(url_failure.original, pairs, merchant.return_method, code)


def _details(request: PaymentRequest) -> ShopDetails:
    return ShopDetails(
        url_success=request.url_success,
        url_failure=request.url_failure,
        url_notify=request.url_notify,
        url_back=request.url_back,
        user_data=request.user_data,
        custom=request.custom,
        plain=request.plain,
        ref_nr=request.ref_nr,
        req_id=request.req_id,
        language=request.language,
        order_desc=request.order_desc_text,
    )


def _pay_order(
    ctx: Context, merchant: Merchant, payment: Payment, request: PaymentRequest
) -> PayOrder:
    shipping = None
    if request.shipping is not None:
        s = request.shipping
        shipping = PayShipping(
            first_name=s.first_name,
            last_name=s.last_name,
            region=s.country_code,
            state=s.state,
            city=s.city,
            address1=s.street,
            address2=s.street2,
            zip_code=s.zip,
        )
    return PayOrder(
        payment_request_id=payment.payment_request_id,
        reference_order_id=request.trans_id,
        order_description=request.order_desc_text,
        amount=Amount(request.currency, request.amount),
        merchant=PayMerchant(
            reference_merchant_id=merchant.alipay.reference_merchant_id,
            mcc=merchant.alipay.mcc,
            name=merchant.alipay.name,
            display_name=merchant.alipay.display_name,
            region=merchant.alipay.region,
        ),
        terminal_type=ctx.codes.terminal_type(request.device),
        os_type=request.os_type,
        buyer_reference_id=request.customer_id,
        user_region=request.country_code,
        settlement_currency=request.fx_currency or merchant.settlement_currency,
        shipping=shipping,
        redirect_url=ctx.return_url(return_token(ctx, payment.pay_id)),
        notify_url=ctx.notify_url,
    )


async def _left_unknown(ctx: Context, merchant: Merchant, payment: Payment) -> ShopDelivery:
    """No definite pay answer: keep it UNKNOWN for reconciliation, tell the shop pending."""
    await keep_open(ctx, payment, PaymentState.UNKNOWN)
    stored = await ctx.payments.get(payment.pay_id) or payment
    return ctx.results.browser_delivery(merchant, stored, ctx.codes.adapter("upstream_unknown"))


async def _create_order(
    ctx: Context, merchant: Merchant, payment: Payment, request: PaymentRequest
) -> CheckoutOutcome:
    """Call pay until it answers definitely or the budget is spent, reusing the request id."""
    order = _pay_order(ctx, merchant, payment, request)
    budget = Budget(ctx.settings.pay_budget_seconds)

    async def pay() -> Reply:
        reply = await ctx.alipay.pay(order, timeout=budget.call_timeout(Api.PAY.timeout))
        if reply.result.code in RETRYABLE_CODES:
            raise UpstreamUnknown(f"pay answered {reply.result.code}")
        return reply

    try:
        reply = await until_definite(budget, pay)
    except UpstreamUnknown as exc:
        log.warning("pay for %s had no definite answer: %s", payment.pay_id, exc.reason)
        return await _left_unknown(ctx, merchant, payment)
    outcome = read_pay(reply)
    result = reply.result
    checkout_url = outcome.normal_url
    if result.status == "F":
        failed = await apply_payment_result(ctx, payment, result)
        return ctx.results.browser_delivery(merchant, failed, ctx.results.outcome(failed))
    if result.status == "S" and result.code == "SUCCESS" and not checkout_url:
        paid = await apply_payment_result(
            ctx, payment, result, alipay_payment_id=outcome.payment_id
        )
        return ctx.results.browser_delivery(merchant, paid, ctx.results.outcome(paid))
    if not checkout_url:
        # Order created but no page to send the shopper to: wait for notify/inquiry.
        return await _left_unknown(ctx, merchant, payment)
    await keep_open(
        ctx,
        payment,
        PaymentState.PENDING,
        checkout_url=checkout_url,
        alipay_payment_id=outcome.payment_id,
    )
    return Redirect(checkout_url, payment.pay_id)


def stored_delivery(ctx: Context, merchant: Merchant, payment: Payment) -> ShopDelivery | ErrorPage:
    """The payment's result for the browser, to the URL stored with it, if the merchant's
    allowlist still admits that URL (it may have changed since the checkout)."""
    result = ctx.results.outcome(payment)
    delivery = ctx.results.browser_delivery(merchant, payment, result)
    parameter = "URLFailure" if result.status == "FAILED" else "URLSuccess"
    try:
        allowed_url(merchant, delivery.url, parameter)
    except PaygateError as error:
        return _error_page(ctx, error)
    return delivery


async def _resume(
    ctx: Context, merchant: Merchant, existing: Payment, request: PaymentRequest
) -> CheckoutOutcome:
    """The same TransID again: resume an open payment, repeat a final result, refuse changes."""
    if existing.amount != request.amount or existing.currency != request.currency:
        # Never send FAILED for this TransID: the first payment may have succeeded.
        return _error_page(
            ctx,
            PaygateError(
                Category.DUPLICATE,
                "TransID",
                "TransID was already used with another Amount or Currency",
            ),
        )
    if existing.state.is_final:
        return stored_delivery(ctx, merchant, existing)
    if existing.state is PaymentState.PENDING and existing.checkout_url:
        return Redirect(existing.checkout_url, existing.pay_id)
    return await _create_order(ctx, merchant, existing, request)


async def start_checkout(ctx: Context, outer: Fields) -> CheckoutOutcome:
    """The answer to alipayplus.aspx; the request is journalled with what it got."""
    received = ctx.clock()
    outcome = await _checkout(ctx, outer)
    match outcome:
        case Redirect(pay_id=pay_id):
            code: str | None = None
        case ShopDelivery(code=code, pay_id=pay_id):
            pass
        case ErrorPage(code=code):
            pay_id = None
        case _:
            assert_never(outcome)
    merchant_id = outer.get("MerchantID") if pay_id else None
    ctx.journal.note(
        Event(
            at=received,
            hop=Hop.SHOP_REQUEST,
            name="alipayplus",
            outcome=code or "redirect",
            pay_id=pay_id,
            merchant_id=merchant_id,
        )
    )
    return outcome


async def _checkout(ctx: Context, outer: Fields) -> CheckoutOutcome:
    try:
        merchant_id = outer_merchant_id(outer)
    except PaygateError as error:
        return _error_page(ctx, error)
    merchant = ctx.settings.merchant(merchant_id)
    if merchant is None:
        return _error_page(
            ctx, PaygateError(Category.NOT_ALLOWED, "MerchantID", "MerchantID is not known")
        )
    try:
        raw = decode_request(outer, ctx.results.cipher(merchant))
        verify_request_mac(raw, [key.reveal_bytes() for key in merchant.hmac_keys])
    except PaygateError as error:
        return _error_page(ctx, error)
    try:
        request = validate_payment_request(raw, min_amount=merchant.min_amount)
        for url, name in (
            (request.url_failure, "URLFailure"),
            (request.url_success, "URLSuccess"),
            (request.url_back, "URLBack"),
        ):
            if url is not None:
                allowed_url(merchant, url, name)
        await notify_target(merchant, request.url_notify, ctx.resolver)
    except PaygateError as error:
        return _failure_delivery(ctx, merchant, raw, error)

    bind_correlation(merchant_id=merchant.merchant_id, trans_id=request.trans_id)
    existing = await ctx.payments.by_trans_id(merchant.merchant_id, request.trans_id)
    if existing is not None:
        bind_correlation(pay_id=existing.pay_id, payment_request_id=existing.payment_request_id)
        return await _resume(ctx, merchant, existing, request)
    now = ctx.clock()
    payment = Payment(
        pay_id=secrets.token_hex(16),
        merchant_id=merchant.merchant_id,
        trans_id=request.trans_id,
        xid=secrets.token_hex(16),
        amount=request.amount,
        currency=request.currency,
        state=PaymentState.NEW,
        details=_details(request),
        created_at=now,
        updated_at=now,
    )
    bind_correlation(pay_id=payment.pay_id, payment_request_id=payment.payment_request_id)
    created = [payment_event(ctx.clock, payment, PaymentState.NEW)]
    try:
        await ctx.payments.insert(payment, events=created)
    except DuplicateTransID:
        # A concurrent request with the same TransID won the insert: treat as a repeat.
        existing = await ctx.payments.by_trans_id(merchant.merchant_id, request.trans_id)
        if existing is None:
            raise
        return await _resume(ctx, merchant, existing, request)
    ctx.journal.changed(created)
    return await _create_order(ctx, merchant, payment, request)
