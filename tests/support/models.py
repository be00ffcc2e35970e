"""Payments and steps for unit and store tests: valid defaults, changed by keyword."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from adapter.model import (
    Operation,
    OperationDetails,
    OperationKind,
    OperationState,
    Payment,
    PaymentState,
    ShopDetails,
    ShopNotice,
)
from adapter.store.payments import DeliveryAttempt

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
PAY_ID = "a" * 32
NOTICE = ShopNotice("https://s/n", "Len=16&Data=00112233445566778899AABBCCDDEEFF")
SHOP_URLS = ShopDetails(
    url_success="https://s/ok", url_failure="https://s/no", url_notify="https://s/n"
)


def a_payment(**changes: Any) -> Payment:
    """A new EUR payment of 1000 by merchant ``Shop``."""
    payment = Payment(
        pay_id=PAY_ID,
        merchant_id="Shop",
        trans_id="T-1",
        xid="b" * 32,
        amount=1000,
        currency="EUR",
        state=PaymentState.NEW,
        details=SHOP_URLS,
        created_at=NOW,
        updated_at=NOW,
    )
    return dataclasses.replace(payment, **changes)


def a_step(**changes: Any) -> Operation:
    """A pending EUR credit of 10 on :data:`PAY_ID`."""
    step = Operation(
        xid="c" * 32,
        pay_id=PAY_ID,
        merchant_id="Shop",
        kind=OperationKind.CREDIT,
        trans_id="T-R",
        amount=10,
        currency="EUR",
        state=OperationState.PENDING,
        details=OperationDetails(),
        created_at=NOW,
        updated_at=NOW,
    )
    return dataclasses.replace(step, **changes)


def a_failed_attempt(
    notification_id: int,
    at: datetime,
    http_status: int,
    next_attempt_at: datetime | None,
    duration_ms: int = 1,
) -> DeliveryAttempt:
    """A URLNotify attempt the shop answered with ``http_status``; dead without a next one."""
    return DeliveryAttempt(
        notification_id=notification_id,
        at=at,
        http_status=http_status,
        error=f"HTTP {http_status}",
        duration_ms=duration_ms,
        delivered=False,
        next_attempt_at=next_attempt_at,
    )
