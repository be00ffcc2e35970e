"""The one place the adapter's services are built: every entry point (the web app, the CLI, the
tests) opens a :class:`~adapter.core.context.Context` here and, when it serves, starts the
background workers here."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx

from adapter.alipayplus.client import AlipayPlusClient, ClientSettings
from adapter.alipayplus.notify import AnswerSigner
from adapter.config import AlipayConnection, Settings
from adapter.core.clock import Clock, utc_now
from adapter.core.context import Context
from adapter.core.journal import Journal, call_event
from adapter.core.locks import DatabasePaymentLocks, LocalPaymentLocks, PaymentLocks
from adapter.core.outbox import OutboxWorker
from adapter.core.reconcile import run_reconciler
from adapter.core.results import ResultBuilder
from adapter.mapping import ResultCodes
from adapter.net.delivery import AddressRoute, direct
from adapter.net.resolver import Resolver, SystemResolver
from adapter.observability.logs import log_hop
from adapter.observability.metrics import RECONCILER_PASS, count_hop
from adapter.store.db import Database, migrate
from adapter.store.journal import JournalStore, write_riding
from adapter.store.leases import new_owner
from adapter.store.operations import OperationStore
from adapter.store.payments import PaymentStore
from adapter.store.replays import ReplayStore


def client_settings(connection: AlipayConnection) -> ClientSettings:
    return ClientSettings(
        gateway_url=connection.gateway_url,
        client_id=connection.client_id,
        private_key=connection.private_key,
        alipay_public_key=connection.alipay_public_key,
        key_version=connection.key_version,
        timeout_cap=connection.timeout_seconds,
    )


def lock_lease(settings: Settings) -> timedelta:
    """How long a payment's lock outlives its holder: longer than any work done under it."""
    return timedelta(seconds=2 * settings.operation_budget_seconds + 30)


@contextlib.asynccontextmanager
async def open_context(
    settings: Settings,
    codes: ResultCodes,
    *,
    alipay_transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver | None = None,
    clock: Clock = utc_now,
    run_migrations: bool = True,
) -> AsyncIterator[Context]:
    """The stores, the Alipay+ client and the locks for ``settings``; closed on exit."""
    if run_migrations:
        await migrate(settings.database_url)
    db = Database(settings.database_url, before_commit=write_riding)
    owner = new_owner()
    first_check = timedelta(seconds=settings.reconcile_after_seconds)
    payments = PaymentStore(db, owner=owner, first_check_after=first_check)
    locks: PaymentLocks
    if db.dialect == "sqlite":
        locks = LocalPaymentLocks()  # SQLite serves one process
    else:
        locks = DatabasePaymentLocks(payments, ttl=lock_lease(settings), clock=clock)
    journal = Journal(JournalStore(db), clock, [log_hop, count_hop])
    client = AlipayPlusClient(
        client_settings(settings.alipay),
        transport=alipay_transport,
        clock=clock,
        observer=lambda report: journal.note(call_event(clock, report)),
    )
    try:
        yield Context(
            settings=settings,
            codes=codes,
            payments=payments,
            operations=OperationStore(db, first_check_after=first_check),
            replays=ReplayStore(db, owner=owner),
            alipay=client,
            notify_signer=AnswerSigner(
                client_id=settings.alipay.client_id,
                private_key=settings.alipay.private_key,
                key_version=settings.alipay.key_version,
            ),
            results=ResultBuilder(codes),
            locks=locks,
            resolver=resolver or SystemResolver(),
            journal=journal,
            clock=clock,
        )
    finally:
        await client.aclose()
        await db.dispose()


@contextlib.asynccontextmanager
async def running_workers(
    ctx: Context, *, notify_route: AddressRoute = direct
) -> AsyncIterator[OutboxWorker]:
    """The outbox delivery, the reconciler and the journal's writer, until the block ends.

    Then they take no new work, and what is under way gets ``shutdown_grace_seconds`` to end
    (a delivery, a reconciler look); what is still running after that is cancelled, giving its
    leases back.
    """
    worker = OutboxWorker(ctx, route=notify_route)
    background = [
        asyncio.create_task(worker.run(), name="outbox"),
        asyncio.create_task(
            run_reconciler(ctx, on_pass=RECONCILER_PASS.observe), name="reconciler"
        ),
    ]
    journal = asyncio.create_task(ctx.journal.run(), name="journal")
    try:
        yield worker
    finally:
        ctx.stopping.set()
        ctx.outbox_wakeup.set()
        _, late = await asyncio.wait(background, timeout=ctx.settings.shutdown_grace_seconds)
        for task in [*late, journal]:
            task.cancel()
        for task in [*background, journal]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await worker.aclose()
        await ctx.journal.flush()
