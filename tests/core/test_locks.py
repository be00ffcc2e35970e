"""Per-payment locks: one holder per payment, others wait a bounded time."""

from __future__ import annotations

import asyncio

import pytest

from adapter.core.locks import PaymentLocks
from adapter.errors import LockBusy


async def test_holders_of_one_payment_run_one_at_a_time() -> None:
    locks = PaymentLocks()
    inside = 0
    most = 0

    async def hold() -> None:
        nonlocal inside, most
        async with locks.hold("p", wait_seconds=5):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(hold() for _ in range(10)))
    assert most == 1


async def test_different_payments_do_not_wait_for_each_other() -> None:
    locks = PaymentLocks()
    async with locks.hold("p", wait_seconds=5), locks.hold("q", wait_seconds=0.05):
        pass


async def test_waiting_longer_than_allowed_raises_lock_busy_and_releases_nothing() -> None:
    locks = PaymentLocks()
    async with locks.hold("p", wait_seconds=5):
        with pytest.raises(LockBusy):
            async with locks.hold("p", wait_seconds=0.05):
                pass
    async with locks.hold("p", wait_seconds=0.05):
        pass
