"""Payments Alipay+ leaves unsettled past their expiry are cancelled, and end with one notify.

The stack here retries pay for 1 s and cancels what is still open 4 s after its creation
(in production: 12 s and 15 minutes, after the Cashier's 10-minute expiry).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.e2e.conftest import Stack, running_stack
from tests.e2e.conftest import test_shop_factory as shop_factory
from tests.support.returns import shop_return
from tests.support.shop import Received

EXPIRY = {"pay_budget_seconds": 1, "cancel_open_after_seconds": 4}


@dataclass(frozen=True)
class Expired:
    stack: Stack
    in_process: str  # Alipay+ has the order, the shopper never acted, no expiry upstream
    never_arrived: str  # every pay attempt failed before Alipay+ processed it


@pytest.fixture(scope="module")
def expired(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Expired]:
    received, tmp = Received(), tmp_path_factory.mktemp("expiry")
    shop = shop_factory(received)
    with running_stack(tmp, shop, received, adapter_settings=EXPIRY) as stack:
        in_process = stack.open_payment("EX-OPEN", "700")
        stack.sim("faults", {"api": "pay", "mode": "http_500", "count": 1000})
        response = httpx.post(
            f"{stack.adapter_url}/alipayplus.aspx",
            data=stack.shop.request(stack.payment_fields("EX-LOST", "800")),
            timeout=30,
        )
        # Sent back to the shop, pending.
        returned = shop_return(response)
        assert returned.url == f"{stack.shop_url}/success"
        assert stack.shop.decode(returned.pairs)["Status"] == "AUTHORIZE_REQUEST"
        stack.clear_faults()
        never_arrived = stack.pay_id_for("EX-LOST")
        assert stack.state_of(never_arrived) == "UNKNOWN"
        yield Expired(stack, in_process, never_arrived)


def test_a_payment_still_in_process_after_its_expiry_is_cancelled(expired: Expired) -> None:
    stack, pay_id = expired.stack, expired.in_process
    stack.await_state(pay_id, "CANCELLED")
    assert stack.ledger(pay_id)["cancelled"] is True
    [notify] = stack.settled_notifies(pay_id)
    assert (notify["Status"], notify["Code"][0]) == ("FAILED", "2")
    # Nobody can pay it any more.
    paid = httpx.post(f"{stack.sandbox_url}/_sim/payments/{pay_id}/complete", json={"status": "S"})
    assert paid.status_code == 409
    calls = stack.sim("calls")["by_request_id"]
    assert calls[pay_id]["cancelPayment"] == 1  # type: ignore[index]


def test_a_payment_whose_pay_never_reached_alipay_ends_failed_after_its_expiry(
    expired: Expired,
) -> None:
    stack, pay_id = expired.stack, expired.never_arrived
    stack.await_state(pay_id, "FAILED")
    assert httpx.get(f"{stack.sandbox_url}/_sim/payments/{pay_id}").status_code == 404
    [notify] = stack.settled_notifies(pay_id)
    assert (notify["Status"], notify["Code"]) == ("FAILED", "21500136")
    calls = stack.sim("calls")["by_request_id"]
    assert calls[pay_id]["cancelPayment"] == 1  # type: ignore[index]
