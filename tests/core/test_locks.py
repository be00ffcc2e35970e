"""Per-payment locks: one holder per payment across processes, others wait a bounded time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from adapter.core.locks import DatabasePaymentLocks, LocalPaymentLocks, PaymentLocks
from adapter.errors import LockBusy
from adapter.store.db import Database, migrate
from adapter.store.payments import PaymentStore
from tests.support.models import NOW, a_payment
from tests.support.postgres import create_database, drop_database

TTL = timedelta(seconds=30)


@dataclass
class Holders:
    """Two lock objects that must exclude each other: one process's, or two processes'."""

    first: PaymentLocks
    second: PaymentLocks
    stores: list[PaymentStore]


async def _database_holders(url: str) -> tuple[Holders, Database]:
    await migrate(url)
    db = Database(url)
    stores = [PaymentStore(db, owner="instance-a"), PaymentStore(db, owner="instance-b")]
    for pay_id in ("p" * 32, "q" * 32):
        await stores[0].insert(a_payment(pay_id=pay_id, trans_id=pay_id))
    locks = [DatabasePaymentLocks(store, ttl=TTL, clock=lambda: NOW) for store in stores]
    return Holders(locks[0], locks[1], stores), db


@pytest.fixture(
    params=[
        "local",
        "database-sqlite",
        pytest.param("database-postgres", marks=pytest.mark.postgres),
    ]
)
async def holders(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Holders]:
    if request.param == "local":
        local = LocalPaymentLocks()
        yield Holders(local, local, [])
        return
    postgres = request.param == "database-postgres"
    url = await create_database() if postgres else f"sqlite+aiosqlite:///{tmp_path}/a.sqlite3"
    made, db = await _database_holders(url)
    yield made
    await db.dispose()
    if postgres:
        await drop_database(url)


async def test_holders_of_one_payment_run_one_at_a_time(holders: Holders) -> None:
    inside = 0
    most = 0

    async def hold(locks: PaymentLocks) -> None:
        nonlocal inside, most
        async with locks.hold("p" * 32, wait_seconds=10):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(hold(holders.first if n % 2 else holders.second) for n in range(10)))
    assert most == 1


async def test_different_payments_do_not_wait_for_each_other(holders: Holders) -> None:
    async with (
        holders.first.hold("p" * 32, wait_seconds=5),
        holders.second.hold("q" * 32, wait_seconds=0.05),
    ):
        pass


async def test_waiting_longer_than_allowed_raises_lock_busy_and_releases_nothing(
    holders: Holders,
) -> None:
    async with holders.first.hold("p" * 32, wait_seconds=5):
        with pytest.raises(LockBusy):
            async with holders.second.hold("p" * 32, wait_seconds=0.05):
                pass
    async with holders.second.hold("p" * 32, wait_seconds=0.05):
        pass


async def test_a_holder_cancelled_inside_the_lock_gives_it_back(holders: Holders) -> None:
    entered = asyncio.Event()

    async def hold_forever() -> None:
        async with holders.first.hold("p" * 32, wait_seconds=5):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(hold_forever())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with holders.second.hold("p" * 32, wait_seconds=1):
        pass


@pytest.mark.parametrize("postgres", [False, pytest.param(True, marks=pytest.mark.postgres)])
async def test_a_killed_instances_lock_is_taken_over_once_its_lease_expired(
    postgres: bool, tmp_path: Path
) -> None:
    url = await create_database() if postgres else f"sqlite+aiosqlite:///{tmp_path}/a.sqlite3"
    made, db = await _database_holders(url)
    try:
        killed, survivor = made.stores
        # The killed instance took the lease and never gave it back.
        assert await killed.take_lease("p" * 32, now=NOW, ttl=TTL)
        assert not await survivor.take_lease("p" * 32, now=NOW + TTL, ttl=TTL)
        assert await survivor.take_lease("p" * 32, now=NOW + TTL + timedelta(seconds=1), ttl=TTL)
    finally:
        await db.dispose()
        if postgres:
            await drop_database(url)
