"""The per-payment lock: one credit, reversal or expiry cancel of a payment reaches Alipay+ at a
time, whichever adapter process it comes from.

The database guards the money rules by itself (see ``store.operations``); this lock adds that
no two upstream calls for the same payment are ever in flight at once. SQLite serves a single
process, so a lock in the process is enough there; on PostgreSQL the lock is also the payment's
lease in the database, so other processes wait for it, and a killed process's lock expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Protocol
from weakref import WeakValueDictionary

from adapter.core.clock import Clock, utc_now
from adapter.errors import LockBusy
from adapter.store.payments import PaymentStore

FIRST_POLL_SECONDS = 0.01
MAX_POLL_SECONDS = 0.25


class PaymentLocks(Protocol):
    def hold(
        self, pay_id: str, *, wait_seconds: float
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold the payment's lock for the block; :class:`LockBusy` after ``wait_seconds``."""


class LocalPaymentLocks:
    """Locks inside this process."""

    def __init__(self) -> None:
        # Weak values: a lock lives only while a request holds or waits for it.
        self._locks: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()

    @contextlib.asynccontextmanager
    async def hold(self, pay_id: str, *, wait_seconds: float) -> AsyncIterator[None]:
        lock = self._locks.get(pay_id)
        if lock is None:
            lock = self._locks[pay_id] = asyncio.Lock()
        try:
            async with asyncio.timeout(wait_seconds):
                await lock.acquire()
        except TimeoutError:
            raise LockBusy(pay_id) from None
        try:
            yield
        finally:
            lock.release()


class DatabasePaymentLocks:
    """The lock in this process, then the payment's lease in the database.

    The lease outlives the longest work done under the lock (``ttl``), so only a killed holder
    ever lets it expire. Waiters poll it with a growing pause.
    """

    def __init__(self, payments: PaymentStore, *, ttl: timedelta, clock: Clock = utc_now) -> None:
        self._local = LocalPaymentLocks()
        self._payments = payments
        self._ttl = ttl
        self._clock = clock

    @contextlib.asynccontextmanager
    async def hold(self, pay_id: str, *, wait_seconds: float) -> AsyncIterator[None]:
        give_up = time.monotonic() + wait_seconds
        async with self._local.hold(pay_id, wait_seconds=wait_seconds):
            pause = FIRST_POLL_SECONDS
            while not await self._payments.take_lease(pay_id, now=self._clock(), ttl=self._ttl):
                if time.monotonic() + pause > give_up:
                    raise LockBusy(pay_id)
                await asyncio.sleep(pause)
                pause = min(2 * pause, MAX_POLL_SECONDS)
            try:
                yield
            finally:
                # Shielded: a request cancelled under the lock must still give the lease back.
                await asyncio.shield(self._payments.release_lease(pay_id))
