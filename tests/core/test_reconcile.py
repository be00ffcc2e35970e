"""What the reconciler sends again, on a real SQLite store with Alipay+ behind a mock transport."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from adapter.alipayplus.signing import generate_private_key
from adapter.config import AlipayConnection, Settings
from adapter.core.context import Context
from adapter.core.reconcile import reconcile_once, settle_open_steps
from adapter.mapping import load_mapping
from adapter.model import Operation, OperationState, PaymentState
from adapter.runtime import open_context
from adapter.secret import Secret
from adapter.store.db import Database, migrate
from adapter.store.operations import DueStep, OperationStore, Reserved
from adapter.store.payments import PaymentStore
from tests.support.models import NOW, PAY_ID, a_payment, a_step

LONG_AGO = NOW - timedelta(hours=1)
# Unsigned F answers are taken as definite, so no signing is needed here.
DECLINED = b'{"result":{"resultCode":"PROCESS_FAIL","resultStatus":"F","resultMessage":"no"}}'


class SettledMeanwhile(OperationStore):
    """A request settles every open step right after the reconciler has claimed them."""

    async def claim_due(self, *, now: datetime, hold_for: timedelta, limit: int) -> list[DueStep]:
        claimed = await super().claim_due(now=now, hold_for=hold_for, limit=limit)
        for due in claimed:
            await self.finish(
                due.operation.xid, OperationState.SUCCESS, now=NOW, result_code="SUCCESS"
            )
        return claimed


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
    operations: Callable[[Database], OperationStore],
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
        database_url=db.url,
        token_secret=Secret("t" * 32),
        alipay=connection,
        merchants={},
        reconcile_after_seconds=60,
        reconcile_concurrency=4,
    )
    async with open_context(
        settings,
        load_mapping(),
        alipay_transport=httpx.MockTransport(upstream.handle),
        clock=clock,
        run_migrations=False,
    ) as ctx:
        yield dataclasses.replace(ctx, operations=operations(ctx.operations.db))


async def _open_credit(db: Database) -> Operation:
    store = PaymentStore(db)
    await store.insert(a_payment(created_at=LONG_AGO, updated_at=LONG_AGO))
    await store.finalize(
        PAY_ID, PaymentState.SUCCESS, now=LONG_AGO, from_states=[PaymentState.NEW], notice=None
    )
    step = a_step(amount=400, created_at=LONG_AGO, updated_at=LONG_AGO)
    assert isinstance(await OperationStore(db).reserve_credit(step, paid=1000), Reserved)
    return step


async def test_an_open_credit_is_sent_again_and_settled(database: Database) -> None:
    step = await _open_credit(database)
    upstream = Upstream()
    async with _context(database, OperationStore, upstream) as ctx:
        assert await settle_open_steps(ctx) == 1
        settled = await ctx.operations.get(step.xid)
    assert upstream.calls == {"refund": 1}
    assert settled is not None and settled.state is OperationState.FAILED


async def test_a_credit_settled_after_the_reconciler_listed_it_is_not_sent_again(
    database: Database,
) -> None:
    step = await _open_credit(database)
    upstream = Upstream()
    async with _context(database, SettledMeanwhile, upstream) as ctx:
        assert await settle_open_steps(ctx) == 0
        settled = await ctx.operations.get(step.xid)
    assert upstream.calls == {}
    assert settled is not None and settled.state is OperationState.SUCCESS


async def test_a_payment_whose_pay_attempts_were_cut_short_is_reconciled_then_cancelled(
    database: Database,
) -> None:
    """Left NEW by a restart: taken as unknown and inquired, and once expired, cancelled."""
    created = NOW - timedelta(minutes=2)
    await PaymentStore(database).insert(a_payment(created_at=created, updated_at=created))
    upstream, now = Upstream(), [NOW]
    async with _context(database, OperationStore, upstream, lambda: now[0]) as ctx:
        assert await reconcile_once(ctx) == 0
        after_first = await ctx.payments.get(PAY_ID)
        calls_after_first = dict(upstream.calls)
        now[0] = created + timedelta(minutes=20)
        assert await reconcile_once(ctx) == 0
        after_second = await ctx.payments.get(PAY_ID)
    assert after_first is not None and after_first.state is PaymentState.UNKNOWN
    assert calls_after_first == {"inquiryPayment": 1}
    # Alipay+ declines both here: the payment stays open for the operator, never FAILED.
    assert upstream.calls == {"inquiryPayment": 2, "cancelPayment": 1}
    assert after_second is not None and after_second.state is PaymentState.UNKNOWN
