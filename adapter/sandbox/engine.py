"""What Alipay+ does with a payment: its state machine and the rules per API.

Both are described in docs/alipayplus.md#state-machine and docs/alipayplus.md#rules-per-api.

Every operation is synchronous on purpose: with one asyncio loop, a check and the update it
guards can never interleave with another request (e.g. 50 concurrent refunds).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from adapter.sandbox.clock import CHINA, SimClock, china_timestamp
from adapter.sandbox.codes import ApiError, result
from adapter.sandbox.config import SandboxClient, SandboxConfig
from adapter.sandbox.inbound import BROWSER_TERMINALS, PaymentRef, PayRequest, RefundRequest
from adapter.sandbox.store import Payment, PaymentState, RefundRecord, Store
from adapter.sandbox.validation import Amount, illegal

# A longer paymentExpiryTime is ignored (docs/alipayplus.md#windows).
MAX_CASHIER_EXPIRY = timedelta(minutes=10)
REFUND_WINDOW = timedelta(days=365)
# On the China-time day after creation (docs/alipayplus.md#cancelpayment).
CANCEL_DEADLINE = time(0, 15)

# The wallet the simulated shopper always pays with.
PSP_ID = "1022172000000000001"
WALLET_BRAND_NAME = "ALIPAY_CN"

_TRANSACTION_STATUS = {
    PaymentState.INIT: "PROCESSING",
    PaymentState.PROCESSING: "PROCESSING",
    PaymentState.SUCCESS: "SUCCESS",
    PaymentState.FAIL: "FAIL",
    PaymentState.CANCELLED: "CANCELLED",
}


def new_id(now: datetime) -> str:
    """A 24-digit id in Alipay+ style: China-time date, then random digits."""
    return f"{now.astimezone(CHINA):%Y%m%d}{secrets.randbelow(10**16):016d}"


def cancel_deadline(created: datetime) -> datetime:
    day = created.astimezone(CHINA).date() + timedelta(days=1)
    return datetime.combine(day, CANCEL_DEADLINE, tzinfo=CHINA)


def payment_result(payment: Payment) -> dict[str, str]:
    if payment.state is PaymentState.SUCCESS:
        return result("SUCCESS")
    if payment.state is PaymentState.FAIL:
        return result(payment.fail_code or "PROCESS_FAIL", "F")
    if payment.state is PaymentState.CANCELLED:
        return result("ORDER_IS_CLOSED", "F")
    return result("PAYMENT_IN_PROCESS")


class Engine:
    def __init__(
        self,
        config: SandboxConfig,
        clock: SimClock,
        store: Store,
        on_final: Callable[[Payment], None],
    ) -> None:
        self._config = config
        self._clock = clock
        self._store = store
        self._on_final = on_final  # called when a payment enters SUCCESS or FAIL

    def checkout_url(self, payment: Payment) -> str:
        return f"{self._config.base_url}/checkout/{payment.token}"

    # -- state transitions --------------------------------------------------------------

    def refresh(self, payment: Payment) -> None:
        """Apply expiry lazily: every access looks at the clock first."""
        if payment.is_open and self._clock.now() >= payment.expires:
            self._finish(payment, PaymentState.FAIL, self._config.expiry_code)

    def expire_due(self) -> None:
        for payment in list(self._store.payments.values()):
            self.refresh(payment)

    def open_checkout(self, payment: Payment) -> None:
        self.refresh(payment)
        if payment.state is PaymentState.INIT:
            payment.state = PaymentState.PROCESSING

    def complete(self, payment: Payment, *, paid: bool, code: str | None = None) -> bool:
        """The shopper pays or declines; False if the payment was no longer open."""
        self.refresh(payment)
        if not payment.is_open:
            return False
        if paid:
            self._finish(payment, PaymentState.SUCCESS, None)
        else:
            self._finish(payment, PaymentState.FAIL, code or self._config.decline_code)
        return True

    def _finish(self, payment: Payment, state: PaymentState, code: str | None) -> None:
        payment.state = state
        payment.fail_code = code
        if state is PaymentState.SUCCESS:
            payment.payment_time = self._clock.now()
            payment.customer_id = f"2088{secrets.randbelow(10**12):012d}"
            payment.psp_id = PSP_ID
            payment.wallet_brand_name = WALLET_BRAND_NAME
        self._on_final(payment)

    # -- APIs ---------------------------------------------------------------------------

    def pay(self, client: SandboxClient, request: PayRequest) -> dict[str, Any]:
        if request.amount.currency not in self._config.currencies:
            raise ApiError("CURRENCY_NOT_SUPPORT")
        payment = self._store.get(client.client_id, request.payment_request_id)
        if payment is None:
            payment = self._create(client, request)
        elif payment.fingerprint != request.fingerprint:
            raise ApiError("REPEAT_REQ_INCONSISTENT")
        self.refresh(payment)
        if payment.state in {PaymentState.FAIL, PaymentState.CANCELLED}:
            raise ApiError("ORDER_IS_CLOSED")
        body: dict[str, Any] = {
            "paymentId": payment.payment_id,
            "paymentAmount": payment.amount.to_json(),
            "acquirerId": client.acquirer_id,
        }
        if payment.state is PaymentState.SUCCESS:
            return {"result": result("SUCCESS"), **body, "pspId": payment.psp_id}
        # APP/MINI_APP get paymentData (opaque to a real client); ours is the checkout URL so
        # a test can still "open the app" by following it.
        link = "normalUrl" if payment.terminal_type in BROWSER_TERMINALS else "paymentData"
        return {"result": result("PAYMENT_IN_PROCESS"), **body, link: self.checkout_url(payment)}

    def _create(self, client: SandboxClient, request: PayRequest) -> Payment:
        now = self._clock.now()
        expires = now + MAX_CASHIER_EXPIRY
        if request.expiry_time is not None:
            expires = min(expires, request.expiry_time)
        payment = Payment(
            client_id=client.client_id,
            payment_request_id=request.payment_request_id,
            payment_id=new_id(now),
            token=secrets.token_urlsafe(16),
            amount=request.amount,
            fingerprint=request.fingerprint,
            terminal_type=request.terminal_type,
            merchant_name=request.merchant_name,
            order_description=request.order_description,
            redirect_url=request.redirect_url,
            notify_url=request.notify_url or client.default_notify_url,
            created=now,
            expires=expires,
        )
        self._store.add(payment)
        return payment

    def inquiry(self, client: SandboxClient, ref: PaymentRef) -> dict[str, Any]:
        payment = self._resolve(client, ref)
        self.refresh(payment)
        body: dict[str, Any] = {
            "result": result("SUCCESS"),
            "paymentResult": payment_result(payment),
            "paymentRequestId": payment.payment_request_id,
            "paymentId": payment.payment_id,
            "paymentAmount": payment.amount.to_json(),
            "acquirerId": client.acquirer_id,
        }
        if payment.payment_time is not None:
            body |= {
                "paymentTime": china_timestamp(payment.payment_time),
                "pspId": payment.psp_id,
                "customerId": payment.customer_id,
                "walletBrandName": payment.wallet_brand_name,
            }
        body["transactions"] = self._transactions(payment)
        return body

    def _transactions(self, payment: Payment) -> list[dict[str, Any]]:
        entries = [
            _transaction(
                "PAYMENT",
                payment.payment_id,
                payment.payment_request_id,
                _TRANSACTION_STATUS[payment.state],
                payment.amount,
                payment.payment_time,
                payment_result(payment),
            )
        ]
        entries += [
            _transaction(
                "REFUND",
                r.refund_id,
                r.refund_request_id,
                "SUCCESS",
                r.amount,
                r.refund_time,
                result("SUCCESS"),
            )
            for r in payment.refunds
            if r.succeeded
        ]
        if payment.cancel_id is not None:
            entries.append(
                _transaction(
                    "CANCEL",
                    payment.cancel_id,
                    payment.payment_request_id,
                    "SUCCESS",
                    payment.amount,
                    payment.cancelled_at,
                    result("SUCCESS"),
                )
            )
        return entries

    def cancel(self, client: SandboxClient, ref: PaymentRef) -> dict[str, Any]:
        payment = self._resolve(client, ref)
        self.refresh(payment)
        if payment.cancelled_at is None:
            now = self._clock.now()
            if payment.refunded:
                raise ApiError("PROCESS_FAIL", "the payment has refunds")
            if now > cancel_deadline(payment.created):
                raise ApiError("CANCEL_WINDOW_EXCEED")
            payment.cancelled_at = now
            payment.cancel_id = new_id(now)
            # A failed payment has nothing to reverse; it stays FAIL with its own code.
            if payment.state is not PaymentState.FAIL:
                payment.state = PaymentState.CANCELLED
        body: dict[str, Any] = {"result": result("SUCCESS"), "acquirerId": client.acquirer_id}
        if payment.psp_id is not None:
            body["pspId"] = payment.psp_id
        return body

    def refund(self, client: SandboxClient, request: RefundRequest) -> dict[str, Any]:
        payment = self._lookup(client, request.payment)
        record = self._store.refund_requests.get((client.client_id, request.refund_request_id))
        if record is not None:
            if payment is None or record.payment_key != payment.key:
                raise ApiError("REPEAT_REQ_INCONSISTENT", "refunded payment differs")
            if record.amount != request.amount:
                raise ApiError("REPEAT_REQ_INCONSISTENT", "refundAmount differs")
            return record.response
        if payment is None:
            raise ApiError("ORDER_NOT_EXIST")
        self.refresh(payment)
        record = self._decide_refund(client, payment, request)
        self._store.refund_requests[(client.client_id, request.refund_request_id)] = record
        payment.refunds.append(record)
        return record.response

    def _decide_refund(
        self, client: SandboxClient, payment: Payment, request: RefundRequest
    ) -> RefundRecord:
        now = self._clock.now()
        code = "SUCCESS"
        if payment.state is not PaymentState.SUCCESS or payment.payment_time is None:
            code = "ORDER_STATUS_INVALID"
        elif request.amount.currency != payment.amount.currency:
            code = "CURRENCY_NOT_SUPPORT"
        elif now > payment.payment_time + REFUND_WINDOW:
            code = "REFUND_WINDOW_EXCEED"
        elif payment.refunded + request.amount.value > payment.amount.value:
            code = "REFUND_AMOUNT_EXCEED"
        succeeded = code == "SUCCESS"
        refund_id = new_id(now) if succeeded else None
        response: dict[str, Any] = {"result": result(code)}
        if succeeded:
            response |= {
                "acquirerId": client.acquirer_id,
                "pspId": payment.psp_id,
                "refundId": refund_id,
                "refundTime": china_timestamp(now),
                "refundAmount": request.amount.to_json(),
            }
        return RefundRecord(
            client_id=client.client_id,
            refund_request_id=request.refund_request_id,
            payment_key=payment.key,
            amount=request.amount,
            succeeded=succeeded,
            result_code=code,
            refund_id=refund_id,
            refund_time=now if succeeded else None,
            response=response,
        )

    def _lookup(self, client: SandboxClient, ref: PaymentRef) -> Payment | None:
        by_request = (
            self._store.get(client.client_id, ref.payment_request_id)
            if ref.payment_request_id is not None
            else None
        )
        by_id = (
            self._store.by_payment_id(client.client_id, ref.payment_id)
            if ref.payment_id is not None
            else None
        )
        both_given = ref.payment_request_id is not None and ref.payment_id is not None
        if both_given and by_request is not by_id:
            raise illegal("paymentRequestId and paymentId name different payments")
        return by_request or by_id

    def _resolve(self, client: SandboxClient, ref: PaymentRef) -> Payment:
        payment = self._lookup(client, ref)
        if payment is None:
            raise ApiError("ORDER_NOT_EXIST")
        return payment


def _transaction(
    kind: str,
    transaction_id: str | None,
    request_id: str,
    status: str,
    amount: Amount,
    moment: datetime | None,
    outcome: dict[str, str],
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "transactionType": kind,
        "transactionId": transaction_id,
        "transactionRequestId": request_id,
        "transactionStatus": status,
        "transactionAmount": amount.to_json(),
        "transactionResult": outcome,
    }
    if moment is not None:
        entry["transactionTime"] = china_timestamp(moment)
    return entry
