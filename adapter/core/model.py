"""The payment as the adapter keeps it, and the states it moves through."""

from __future__ import annotations

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
