"""In-memory ledger of the sandbox: payments, refund requests and their indexes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from adapter.sandbox.validation import Amount


class PaymentState(StrEnum):
    INIT = "INIT"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    CANCELLED = "CANCELLED"


OPEN_STATES = frozenset({PaymentState.INIT, PaymentState.PROCESSING})


@dataclass(frozen=True)
class RefundRecord:
    """The first outcome of a refundRequestId; replays answer ``response`` verbatim."""

    client_id: str
    refund_request_id: str
    payment_key: tuple[str, str]  # (clientId, paymentRequestId) of the refunded payment
    amount: Amount
    succeeded: bool
    result_code: str
    refund_id: str | None
    refund_time: datetime | None
    response: dict[str, Any]


@dataclass
class Payment:
    client_id: str
    payment_request_id: str
    payment_id: str
    token: str  # the unguessable part of the checkout URL
    amount: Amount
    fingerprint: str
    terminal_type: str
    merchant_name: str
    order_description: str
    redirect_url: str | None
    notify_url: str | None
    created: datetime
    expires: datetime
    state: PaymentState = PaymentState.INIT
    fail_code: str | None = None
    payment_time: datetime | None = None
    customer_id: str | None = None
    psp_id: str | None = None
    wallet_brand_name: str | None = None
    cancel_id: str | None = None
    cancelled_at: datetime | None = None
    refunds: list[RefundRecord] = field(default_factory=list)  # every refund request, in order
    notification: bytes | None = None  # fixed once final, so every resend carries the same body

    @property
    def key(self) -> tuple[str, str]:
        return (self.client_id, self.payment_request_id)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def refunded(self) -> int:
        return sum(r.amount.value for r in self.refunds if r.succeeded)


class Store:
    def __init__(self) -> None:
        self.payments: dict[tuple[str, str], Payment] = {}
        self._by_payment_id: dict[tuple[str, str], Payment] = {}
        self._by_token: dict[str, Payment] = {}
        self.refund_requests: dict[tuple[str, str], RefundRecord] = {}

    def add(self, payment: Payment) -> None:
        self.payments[payment.key] = payment
        self._by_payment_id[(payment.client_id, payment.payment_id)] = payment
        self._by_token[payment.token] = payment

    def get(self, client_id: str, payment_request_id: str) -> Payment | None:
        return self.payments.get((client_id, payment_request_id))

    def by_payment_id(self, client_id: str, payment_id: str) -> Payment | None:
        return self._by_payment_id.get((client_id, payment_id))

    def by_token(self, token: str) -> Payment | None:
        return self._by_token.get(token)

    def find(self, payment_request_id: str, client_id: str | None = None) -> list[Payment]:
        """Payments with this paymentRequestId, across clients unless one is named."""
        return [
            p
            for p in self.payments.values()
            if p.payment_request_id == payment_request_id
            and (client_id is None or p.client_id == client_id)
        ]

    def clear(self) -> None:
        self.payments.clear()
        self._by_payment_id.clear()
        self._by_token.clear()
        self.refund_requests.clear()
