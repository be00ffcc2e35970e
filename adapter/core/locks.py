"""One lock per payment inside this process, so its credits and reversals reach Alipay+ in order.

The database guards the money rules across processes (see ``store.operations``); this lock adds
that one process never has two upstream calls for the same payment in flight at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from weakref import WeakValueDictionary

from adapter.errors import LockBusy


class PaymentLocks:
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
