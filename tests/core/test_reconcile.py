"""What the reconciler sends again, on a real SQLite store with Alipay+ behind a mock transport."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from adapter.alipayplus.client import AlipayPlusClient, ClientSettings
from adapter.alipayplus.signing import generate_private_key
from adapter.config import AlipayConnection, Settings
from adapter.core.context import Context
from adapter.core.model import Operation, OperationState, PaymentState
from adapter.core.reconcile import reconcile_once, settle_open_steps
from adapter.core.results import ResultBuilder
from adapter.mapping import load_mapping
from adapter.secret import Secret
from adapter.store.db import Database, migrate
from adapter.store.operations import OperationStore, Reserved
from adapter.store.payments import PaymentStore
from adapter.store.replays import ReplayStore
from tests.support.models import NOW, PAY_ID, a_payment, a_step

LONG_AGO = NOW - timedelta(hours=1)
# Unsigned F answers are taken as definite, so no signing is needed here.
DECLINED = b'{"result":{"resultCode":"PROCESS_FAIL","resultStatus":"F","resultMessage":"no"}}'


class SettledMeanwhile(OperationStore):
    """A request settles every open step right after the reconciler has listed them."""

    async def open_older_than(self, cutoff: datetime, limit: int = 50) -> list[Operation]:
        listed = await super().open_older_than(cutoff, limit)
        for step in listed:
            await self.finish(step.xid, OperationState.SUCCESS, now=NOW, result_code="SUCCESS")
        return listed


@dataclass
class Upstream:
    calls: Counter[str] = field(default_factory=Counter)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls[request.url.path.rsplit("/", 1)[-1]] += 1
        return httpx.Response(200, content=DECLINED)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite+aiosqlite:///{tmp_path}/adapter.sqlite3"
    await migrate(url)
    db = Database(url)
    yield db
    await db.dispose()


@asynccontextmanager
async def _context(
    db: Database,
    operations: OperationStore,
    upstream: Upstream,
    clock: Callable[[], datetime] = lambda: NOW,
) -> AsyncIterator[Context]:
    key = generate_private_key()
    connection = AlipayConnection(
        gateway_url="http://alipay.test",
        client_id="C1",
        private_key=key,
        alipay_public_key=key.public_key(),
    )
    settings = Settings(
        public_url="http://adapter.test",
        database_url="unused",
        token_secret=Secret("t" * 32),
        alipay=connection,
        merchants={},
        reconcile_after_seconds=60,
    )
    client = AlipayPlusClient(
        ClientSettings("http://alipay.test", "C1", key, key.public_key()),
        transport=httpx.MockTransport(upstream.handle),
    )
    mapping = load_mapping()
    async with client:
        yield Context(
            settings=settings,
            mapping=mapping,
            store=PaymentStore(db),
            alipay=client,
            results=ResultBuilder(mapping),
            operations=operations,
            replays=ReplayStore(db),
            clock=clock,
        )


async def _open_credit(db: Database) -> Operation:
    store = PaymentStore(db)
    await store.insert(a_payment(created_at=LONG_AGO, updated_at=LONG_AGO))
    await store.finalize(
        PAY_ID, PaymentState.SUCCESS, now=LONG_AGO, from_states=[PaymentState.NEW], notify_url=None
    )
    step = a_step(amount=400, created_at=LONG_AGO, updated_at=LONG_AGO)
    assert isinstance(await OperationStore(db).reserve_credit(step, paid=1000), Reserved)
    return step


async def test_an_open_credit_is_sent_again_and_settled(database: Database) -> None:
    step = await _open_credit(database)
    upstream = Upstream()
    async with _context(database, OperationStore(database), upstream) as ctx:
        assert await settle_open_steps(ctx) == 1
        settled = await ctx.operations.get(step.xid)
    assert upstream.calls == {"refund": 1}
    assert settled is not None and settled.state is OperationState.FAILED


async def test_a_credit_settled_after_the_reconciler_listed_it_is_not_sent_again(
    database: Database,
) -> None:
    step = await _open_credit(database)
    upstream = Upstream()
    async with _context(database, SettledMeanwhile(database), upstream) as ctx:
        assert await settle_open_steps(ctx) == 0
        settled = await ctx.operations.get(step.xid)
    assert upstream.calls == {}
    assert settled is not None and settled.state is OperationState.SUCCESS


async def test_a_payment_whose_pay_attempts_were_cut_short_is_reconciled_then_cancelled(
    database: Database,
) -> None:
    """Left NEW by a restart: first taken as unknown, then inquired and, past expiry, cancelled."""
    await PaymentStore(database).insert(a_payment(created_at=LONG_AGO, updated_at=LONG_AGO))
    upstream, now = Upstream(), [NOW]
    async with _context(database, OperationStore(database), upstream, lambda: now[0]) as ctx:
        assert await reconcile_once(ctx) == 0
        after_first = await ctx.store.get(PAY_ID)
        calls_after_first = dict(upstream.calls)
        now[0] = NOW + timedelta(minutes=2)
        assert await reconcile_once(ctx) == 0
        after_second = await ctx.store.get(PAY_ID)
    assert after_first is not None and after_first.state is PaymentState.UNKNOWN
    assert calls_after_first == {}
    # Alipay+ declines both here: the payment stays open for the operator, never FAILED.
    assert upstream.calls == {"inquiryPayment": 1, "cancelPayment": 1}
    assert after_second is not None and after_second.state is PaymentState.UNKNOWN
