"""The payment as the adapter keeps it, and the states it moves through."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class PaymentState(StrEnum):
    NEW = "NEW"  # stored, pay not yet answered
    PENDING = "PENDING"  # Alipay+ created the order; the shopper has to act
    UNKNOWN = "UNKNOWN"  # pay had no definite answer; reconciliation decides
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({PaymentState.SUCCESS, PaymentState.FAILED, PaymentState.CANCELLED})
OPEN_STATES = frozenset({PaymentState.NEW, PaymentState.PENDING, PaymentState.UNKNOWN})


@dataclass(frozen=True)
class ShopDetails:
    """What the shop's request asked for that only matters when answering it."""

    url_success: str
    url_failure: str
    url_notify: str
    url_back: str | None = None
    user_data: str | None = None
    custom: str | None = None
    plain: str | None = None
    ref_nr: str | None = None
    req_id: str | None = None
    language: str | None = None
    order_desc: str = ""


@dataclass(frozen=True)
class ShopNotice:
    """The URLNotify POST of one final state, built when that state is written: every delivery
    and every repeat of it sends exactly these bytes, whatever happens to the payment later."""

    url: str
    body: str  # application/x-www-form-urlencoded: Len, Data, the Custom pairs, Plain


@dataclass(frozen=True)
class Payment:
    pay_id: str
    merchant_id: str
    trans_id: str
    xid: str
    amount: int
    currency: str
    state: PaymentState
    details: ShopDetails
    created_at: datetime
    updated_at: datetime
    result_code: str | None = None
    alipay_payment_id: str | None = None
    checkout_url: str | None = None
    cancel_requested: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def payment_request_id(self) -> str:
        """Our Alipay+ paymentRequestId: derived from the row, so every retry reuses it."""
        return self.pay_id


class OperationKind(StrEnum):
    CREDIT = "credit"
    REVERSE = "reverse"


class OperationState(StrEnum):
    PENDING = "PENDING"  # reserved, the upstream call is running
    UNKNOWN = "UNKNOWN"  # no definite upstream answer yet; repeats and reconciliation retry
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"  # definitely did not happen

    @property
    def is_final(self) -> bool:
        return self in (OperationState.SUCCESS, OperationState.FAILED)


OPEN_OPERATION_STATES = frozenset({OperationState.PENDING, OperationState.UNKNOWN})


@dataclass(frozen=True)
class OperationDetails:
    """Request values kept to echo in a repeated answer, and the refund reason to resend."""

    ref_nr: str | None = None
    user_data: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Operation:
    """One credit or reversal of a payment: a Paygate step with its own XID."""

    xid: str
    pay_id: str
    merchant_id: str
    kind: OperationKind
    trans_id: str
    amount: int
    currency: str
    state: OperationState
    details: OperationDetails
    created_at: datetime
    updated_at: datetime
    req_id: str | None = None
    result_code: str | None = None
    alipay_id: str | None = None
    # A reversal that must end with the money returned although Alipay+ refused the cancel.
    refund_instead: bool = False

    @property
    def refund_request_id(self) -> str:
        """Our Alipay+ refundRequestId: the step's XID, so every retry reuses it."""
        return self.xid


@dataclass(frozen=True)
class PaymentStanding:
    """Where a payment stands, as inquire.aspx reports it: its own values, what its successful
    credits add up to and the state of its newest finished step, read in one statement."""

    pay_id: str
    merchant_id: str
    trans_id: str
    xid: str
    ref_nr: str | None
    amount: int
    currency: str
    state: PaymentState
    result_code: str | None
    credited: int  # successful credits
    last_step: OperationState | None  # the newest SUCCESS or FAILED step; None without one


class Hop(StrEnum):
    """What an event of the journal records."""

    SHOP_REQUEST = "shop_request"  # a Paygate request answered: endpoint, Status, Code
    ALIPAY_CALL = "alipay_call"  # one call to Alipay+: API, request id, result, latency
    ALIPAY_NOTIFY = "alipay_notify"  # a notifyPayment received, and its verdict
    SHOP_NOTIFY = "shop_notify"  # one URLNotify delivery attempt: HTTP status, latency, error
    PAYMENT = "payment"  # the payment reached a state
    STEP = "step"  # a credit or reversal reached a state
    RECONCILER = "reconciler"  # the reconciler looked, or cancelled an expired payment
    OPERATOR = "operator"  # an operator acted (actor: the operator's name)


Detail = Mapping[str, str | int | float | bool | None]


@dataclass(frozen=True)
class Event:
    """One hop of a payment, as the journal keeps it. Never a key, a MAC, Data or a value the
    shop sent encrypted: ids the adapter made, codes, states, HTTP statuses and timings only."""

    at: datetime
    hop: Hop
    name: str  # the endpoint, API, state or action
    outcome: str | None = None  # the Paygate code, Alipay+ result code or HTTP status
    pay_id: str | None = None
    merchant_id: str | None = None
    detail: Detail = field(default_factory=dict)
    actor: str = "adapter"
    # A read-only request (inquire): counted, logged at DEBUG, never journalled. Shops poll
    # it, and its rows and lines would only bury the hops that change something.
    routine: bool = False
