"""The event journal of a full flow: every hop, in the order it happened, and no secret."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from adapter.model import Event
from adapter.store.db import Database
from adapter.store.journal import JournalStore
from adapter.store.tables import notifications
from tests.e2e.conftest import Stack, running_stack
from tests.e2e.conftest import test_shop_factory as shop_factory
from tests.support.s2s import S2SClient
from tests.support.shop import Received
from tests.support.waiting import wait_until


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    received = Received()
    settings = {"notify_retry_seconds": [0.3, 0.3, 0.3]}
    with running_stack(
        tmp_path, shop_factory(received), received, adapter_settings=settings
    ) as running:
        yield running


def _timeline(stack: Stack, pay_id: str) -> list[Event]:
    async def read() -> list[Event]:
        db = Database(stack.settings.database_url)
        try:
            return await JournalStore(db).timeline(pay_id)
        finally:
            await db.dispose()

    return asyncio.run(read())


def _hops(events: list[Event]) -> list[str]:
    return [f"{e.hop.value} {e.name} {e.outcome or ''}".strip() for e in events]


def _in_order(hops: list[str], expected: list[str]) -> bool:
    """``expected`` appear in ``hops`` in this order (other hops may come between)."""
    rest = iter(hops)
    return all(any(hop == wanted for hop in rest) for wanted in expected)


def _delivered(stack: Stack, pay_id: str) -> bool:
    statuses = stack.column(select(notifications.c.status).where(notifications.c.pay_id == pay_id))
    return statuses == ["delivered"]


def test_a_full_flow_journals_every_hop_in_order_and_no_secret(stack: Stack) -> None:
    stack.sim("notify-policy", {"mode": "duplicate"})
    stack.received.notify_status = 500  # the shop's URLNotify fails at first
    pay_id = stack.open_payment("T-J1", amount="1000")
    stack.sim(f"payments/{pay_id}/complete", {"status": "S"})
    stack.await_state(pay_id, "SUCCESS")
    wait_until(lambda: stack.received.bodies, message="no URLNotify attempt")
    stack.received.notify_status = 200
    wait_until(lambda: _delivered(stack, pay_id), message="the URLNotify was never delivered")
    with httpx.Client(timeout=30) as http:
        client = S2SClient(stack.shop, stack.adapter_url, http)
        assert client.credit(pay_id, "T-J1-C", "300", UserData="secret-basket")["Status"] == "OK"
        reversed_id = stack.paid_payment("T-J2", amount="1000")
        assert client.reverse(reversed_id, "T-J2-R", "1000")["Status"] == "OK"
    wait_until(
        lambda: "shop_request credit 00000000" in _hops(_timeline(stack, pay_id)),
        message="the credit request was never journalled",
    )
    hops = _hops(_timeline(stack, pay_id))
    assert _in_order(
        hops,
        [
            "shop_request alipayplus redirect",
            "payment NEW",
            "alipay_call pay U PAYMENT_IN_PROCESS",
            "payment PENDING",
            "alipay_notify notifyPayment S SUCCESS",
            "payment SUCCESS SUCCESS",
            "shop_notify SUCCESS retry",
            "shop_notify SUCCESS delivered",
            "shop_request credit 00000000",
            "step credit PENDING",
            "alipay_call refund S SUCCESS",
            "step credit SUCCESS SUCCESS",
        ],
    ), hops
    assert hops.count("alipay_notify notifyPayment S SUCCESS") == 2  # the duplicate, as it came
    assert hops.count("payment SUCCESS SUCCESS") == 1
    reversal = [
        "shop_request reverse 00000000",  # at the time it came in
        "step reverse PENDING",
        "alipay_call cancelPayment S SUCCESS",
        "step reverse SUCCESS SUCCESS",
        "payment CANCELLED SUCCESS",
    ]
    # The request's own hop is written by the journal's next flush, after its answer.
    wait_until(
        lambda: _in_order(_hops(_timeline(stack, reversed_id)), reversal),
        message=lambda: (
            f"the reversal was never journalled in order: {_hops(_timeline(stack, reversed_id))}"
        ),
    )
    text = json.dumps(
        [[e.name, e.outcome, e.actor, dict(e.detail)] for e in _timeline(stack, pay_id)]
    )
    for secret in (
        stack.shop.hmac_key,
        stack.shop.blowfish_key,
        "secret-basket",
        "T-J1",  # the shop's TransID came encrypted: ids the adapter made only
        "basket-7",
        "session=abc",
    ):
        assert secret not in text, secret
