"""Two OutboxWorkers on one database, each in a thread and event loop of its own like two adapter
processes, compete for the same due notifications: each one reaches the shop exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import func, select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from adapter.config import Settings, parse_settings
from adapter.core import outbox
from adapter.core.context import Context
from adapter.core.outbox import OutboxWorker
from adapter.mapping import load_mapping
from adapter.model import Event, Hop, Payment, PaymentState, ShopNotice
from adapter.runtime import open_context
from adapter.store.db import Database, migrate
from adapter.store.payments import DeliveryAttempt, DueNotification, PaymentStore
from adapter.store.tables import events, notifications, notify_attempts
from tests.support.config import config_data
from tests.support.models import NOW, a_payment
from tests.support.postgres import create_database, drop_database
from tests.support.servers import reserve_port, serve
from tests.support.shop import ShopKeys
from tests.support.waiting import wait_until_async

ROWS = 60  # three claims' worth: a worker leases up to 20 due rows at a time
# The shop holds every delivery until both workers are delivering: the first worker is then
# still busy with its claim while the second claims, so both really compete for the rows.
# Shorter than the outbox's read timeout, so a missing second worker fails the test instead.
HOLD_SECONDS = 5.0


@dataclass
class Gate:
    """Opens once both workers are delivering."""

    opened: threading.Event = field(default_factory=threading.Event)
    delivering: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arrived(self, worker: str) -> None:
        with self.lock:
            self.delivering.add(worker)
            if len(self.delivering) == 2:
                self.opened.set()


def gated_shop(bodies: list[bytes], gate: Gate) -> Starlette:
    async def notify(request: Request) -> PlainTextResponse:
        bodies.append(await request.body())
        await asyncio.to_thread(gate.opened.wait, HOLD_SECONDS)
        return PlainTextResponse("OK")

    return Starlette(routes=[Route("/notify", notify, methods=["POST"])])


class RecordingWorker(OutboxWorker):
    """An OutboxWorker that notes which notifications it delivered."""

    def __init__(self, ctx: Context, name: str, gate: Gate) -> None:
        super().__init__(ctx)
        self.name = name
        self.gate = gate
        self.delivered: list[int] = []

    async def attempt(self, notification: DueNotification) -> tuple[DeliveryAttempt, Event]:
        self.delivered.append(notification.id)
        self.gate.arrived(self.name)
        return await super().attempt(notification)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A real SQLite file or a fresh PostgreSQL database, migrated."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/adapter.sqlite3"
    else:
        url = asyncio.run(create_database())
    asyncio.run(migrate(url))
    yield url
    if request.param == "postgres":
        asyncio.run(drop_database(url))


def _settings(tmp_path: Path, database_url: str, shop_port: int) -> Settings:
    data = config_data(
        tmp_path,
        allowed_hosts=[f"127.0.0.1:{shop_port}"],
        allow_http=True,
        allow_private_targets=True,
    )
    data["adapter"]["database_url"] = database_url
    environ = {"TOKEN": "t" * 32, "HMAC_NEW": "new-hmac-key"}
    return parse_settings(data, base_dir=tmp_path, environ=environ)


async def _queue_notifications(database_url: str, notify_url: str) -> None:
    """ROWS paid payments of merchant Shop, each with its notification due now."""
    db = Database(database_url)
    store = PaymentStore(db)
    try:
        for n in range(ROWS):
            pay_id = f"{n:032d}"
            await store.insert(a_payment(pay_id=pay_id, trans_id=f"T-{n}"))
            await store.finalize(
                pay_id,
                PaymentState.SUCCESS,
                now=NOW,
                from_states=[PaymentState.NEW],
                notice=ShopNotice(notify_url, f"row={n}"),
            )
    finally:
        await db.dispose()


def _run_worker(settings: Settings, name: str, gate: Gate, start: threading.Barrier) -> list[int]:
    """One worker's passes until no notification is pending any more; what it delivered."""

    async def work() -> list[int]:
        async with open_context(settings, load_mapping(), run_migrations=False) as ctx:
            worker = RecordingWorker(ctx, name, gate)
            pending = select(func.count()).select_from(notifications)
            pending = pending.where(notifications.c.status == "pending")

            async def all_delivered() -> bool:
                await worker.run_once()
                return await ctx.payments.db.read(lambda c: c.execute(pending).scalar_one()) == 0

            try:
                start.wait(timeout=60)
                await wait_until_async(
                    all_delivered, timeout=120, message=f"{name}: rows still pending"
                )
            finally:
                await worker.aclose()
            return worker.delivered

    return asyncio.run(work())


async def _stored(database_url: str) -> tuple[list[dict[str, Any]], int]:
    db = Database(database_url)
    try:
        rows = await db.read(
            lambda c: [dict(r) for r in c.execute(select(notifications)).mappings()]
        )
        count = select(func.count()).select_from(notify_attempts)
        attempts = await db.read(lambda c: int(c.execute(count).scalar_one()))
    finally:
        await db.dispose()
    return rows, attempts


def test_two_workers_on_one_database_deliver_every_due_notification_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    bodies: list[bytes] = []
    gate = Gate()
    port = reserve_port()
    settings = _settings(tmp_path, database_url, port)
    with serve(gated_shop(bodies, gate), port) as shop_url:
        asyncio.run(_queue_notifications(database_url, f"{shop_url}/notify"))
        start = threading.Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            runs = [pool.submit(_run_worker, settings, name, gate, start) for name in "AB"]
            first, second = (run.result(timeout=170) for run in runs)

    assert sorted(bodies) == sorted(f"row={n}".encode() for n in range(ROWS))
    assert first and second, "both workers delivered some of the rows"
    assert not set(first) & set(second)
    rows, attempts = asyncio.run(_stored(database_url))
    assert sorted(first + second) == sorted(row["id"] for row in rows)
    assert {(row["status"], row["attempts"]) for row in rows} == {("delivered", 1)}
    assert attempts == ROWS


def counting_shop(bodies: list[bytes]) -> Starlette:
    async def notify(request: Request) -> PlainTextResponse:
        bodies.append(await request.body())
        return PlainTextResponse("OK")

    return Starlette(routes=[Route("/notify", notify, methods=["POST"])])


@contextlib.asynccontextmanager
async def _running(worker: OutboxWorker) -> AsyncIterator[None]:
    """``worker.run()`` as a served adapter runs it, cancelled at the block's end (as at
    shutdown past the grace time), then the worker closed."""
    running = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await worker.aclose()


def test_a_backlog_of_several_batches_is_delivered_without_waiting_for_the_poll(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a burst (a notify storm, an outage) the worker goes on while batches come full."""
    monkeypatch.setattr(outbox, "POLL_SECONDS", 3600.0)  # a wait would outlast the test
    bodies: list[bytes] = []
    port = reserve_port()
    settings = _settings(tmp_path, database_url, port)

    async def deliver_all() -> None:
        async with (
            open_context(settings, load_mapping(), run_migrations=False) as ctx,
            _running(OutboxWorker(ctx)),
        ):
            await wait_until_async(
                lambda: len(bodies) == ROWS, timeout=60, message="backlog not delivered"
            )

    with serve(counting_shop(bodies), port) as shop_url:
        asyncio.run(_queue_notifications(database_url, f"{shop_url}/notify"))
        asyncio.run(deliver_all())
    assert sorted(bodies) == sorted(f"row={n}".encode() for n in range(ROWS))


async def _deliver_all_due(ctx: Context) -> None:
    """One worker's passes until a pass finds nothing due."""
    worker = OutboxWorker(ctx)
    try:
        while await worker.run_once():
            pass
    finally:
        await worker.aclose()


def test_a_delivery_reads_no_payment_unless_its_row_predates_stored_bodies(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim brings each row's merchant; only a row queued before bodies were stored
    (revision 0005) reads its payment, to build the body for the state it was written for."""
    bodies: list[bytes] = []
    port = reserve_port()
    settings = _settings(tmp_path, database_url, port)
    read: list[str] = []
    real_get = PaymentStore.get

    async def counted_get(self: PaymentStore, pay_id: str) -> Payment | None:
        read.append(pay_id)
        return await real_get(self, pay_id)

    monkeypatch.setattr(PaymentStore, "get", counted_get)
    legacy = f"{0:032d}"

    async def deliver_all() -> None:
        async with open_context(settings, load_mapping(), run_migrations=False) as ctx:
            await ctx.payments.db.write(
                lambda c: c.execute(
                    update(notifications).where(notifications.c.pay_id == legacy).values(body=None)
                )
            )
            await _deliver_all_due(ctx)

    with serve(counting_shop(bodies), port) as shop_url:
        asyncio.run(_queue_notifications(database_url, f"{shop_url}/notify"))
        asyncio.run(deliver_all())
    assert read == [legacy]
    stored = sorted(f"row={n}".encode() for n in range(1, ROWS))
    assert sorted(b for b in bodies if b.startswith(b"row=")) == stored
    (built,) = [b for b in bodies if not b.startswith(b"row=")]
    keys = ShopKeys("Shop", "new-hmac-key", "Bf16charsKey!xyz")
    fields = keys.decode(parse_qsl(built.decode()))
    assert (fields["PayID"], fields["Status"]) == (legacy, "OK")


async def _stored_events(database_url: str) -> list[dict[str, Any]]:
    db = Database(database_url)
    try:
        query = select(events).where(events.c.hop == Hop.SHOP_NOTIFY.value)
        return await db.read(lambda c: [dict(r) for r in c.execute(query).mappings()])
    finally:
        await db.dispose()


def test_every_attempt_of_a_pass_is_stored_once_with_its_journal_event(
    database_url: str, tmp_path: Path
) -> None:
    """Attempts that finish together share a transaction; none is lost or stored twice."""
    bodies: list[bytes] = []
    port = reserve_port()
    settings = _settings(tmp_path, database_url, port)

    async def deliver_all() -> None:
        async with open_context(settings, load_mapping(), run_migrations=False) as ctx:
            await _deliver_all_due(ctx)

    with serve(counting_shop(bodies), port) as shop_url:
        asyncio.run(_queue_notifications(database_url, f"{shop_url}/notify"))
        asyncio.run(deliver_all())
    rows, attempts = asyncio.run(_stored(database_url))
    assert {(row["status"], row["attempts"], row["lease_owner"]) for row in rows} == {
        ("delivered", 1, None)
    }
    assert attempts == ROWS
    journal = asyncio.run(_stored_events(database_url))
    assert sorted(event["pay_id"] for event in journal) == sorted(row["pay_id"] for row in rows)
    assert {event["outcome"] for event in journal} == {"delivered"}


def test_a_pass_cut_short_gives_back_what_it_did_not_record(
    database_url: str, tmp_path: Path
) -> None:
    """At shutdown a pass whose shop has not answered yet leaves its rows free for another
    process now, with no attempt stored, rather than leased for a minute."""
    bodies: list[bytes] = []
    gate = Gate()  # never opened: the shop holds every delivery
    port = reserve_port()
    settings = _settings(tmp_path, database_url, port)

    async def cut_short() -> None:
        async with open_context(settings, load_mapping(), run_migrations=False) as ctx:
            worker = OutboxWorker(ctx)
            try:
                running = asyncio.create_task(worker.run_once())
                await wait_until_async(
                    lambda: len(bodies) >= 1, timeout=30, message="no delivery reached the shop"
                )
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
            finally:
                await worker.aclose()

    with serve(gated_shop(bodies, gate), port) as shop_url:
        asyncio.run(_queue_notifications(database_url, f"{shop_url}/notify"))
        asyncio.run(cut_short())
        gate.opened.set()
    rows, attempts = asyncio.run(_stored(database_url))
    assert {(row["status"], row["attempts"], row["lease_owner"]) for row in rows} == {
        ("pending", 0, None)
    }
    assert attempts == 0


class FailingWorker(OutboxWorker):
    """An OutboxWorker whose first attempt fails unexpectedly."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.failed: str | None = None

    async def attempt(self, notification: DueNotification) -> tuple[DeliveryAttempt, Event]:
        if self.failed is None:
            self.failed = notification.pay_id
            raise RuntimeError("unexpected")
        return await super().attempt(notification)


def test_an_attempt_that_fails_unexpectedly_leaves_the_others_recorded(
    database_url: str, tmp_path: Path
) -> None:
    """The pass records every other attempt before it reports the failure; the failed row
    stays leased, to be tried again when its lease runs out."""
    bodies: list[bytes] = []
    port = reserve_port()
    settings = _settings(tmp_path, database_url, port)

    async def one_pass() -> str | None:
        async with open_context(settings, load_mapping(), run_migrations=False) as ctx:
            worker = FailingWorker(ctx)
            try:
                with pytest.raises(RuntimeError, match="unexpected"):
                    await worker.run_once()
            finally:
                await worker.aclose()
            return worker.failed

    with serve(counting_shop(bodies), port) as shop_url:
        asyncio.run(_queue_notifications(database_url, f"{shop_url}/notify"))
        failing = asyncio.run(one_pass())
    rows, attempts = asyncio.run(_stored(database_url))
    by_pay_id = {row["pay_id"]: row for row in rows}
    failed = by_pay_id.pop(str(failing))
    assert (failed["status"], failed["attempts"]) == ("pending", 0)
    assert failed["lease_owner"] is not None
    delivered = [row for row in by_pay_id.values() if row["status"] == "delivered"]
    assert len(delivered) == outbox.BATCH - 1 == attempts


async def _finalize_paid(ctx: Context, first: int, count: int, notify_url: str) -> None:
    """Payments ``first`` … of merchant Shop paid in this process, each queuing its notify."""
    for n in range(first, first + count):
        pay_id = f"{n:032d}"
        await ctx.payments.insert(a_payment(pay_id=pay_id, trans_id=f"T-{n}"))
        await ctx.payments.finalize(
            pay_id,
            PaymentState.SUCCESS,
            now=ctx.clock(),
            from_states=[PaymentState.NEW],
            notice=ShopNotice(notify_url, f"row={n}"),
        )


def test_a_running_worker_sends_what_its_process_queues_without_claiming_it(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows come leased to the worker and are handed over in memory: no claim runs for
    them, yet each reaches the shop once and is recorded delivered, its lease given up."""
    monkeypatch.setattr(outbox, "POLL_SECONDS", 3600.0)  # no claim for the poll's sake
    bodies: list[bytes] = []
    claims: list[int] = []
    real_claim = PaymentStore.claim_due_notifications

    async def counted_claim(self: PaymentStore, **kwargs: Any) -> list[DueNotification]:
        claims.append(kwargs["limit"])
        return await real_claim(self, **kwargs)

    monkeypatch.setattr(PaymentStore, "claim_due_notifications", counted_claim)
    port = reserve_port()
    settings = _settings(tmp_path, database_url, port)

    async def queue_and_deliver(notify_url: str) -> None:
        async with open_context(settings, load_mapping(), run_migrations=False) as ctx:
            worker = OutboxWorker(ctx)
            running = asyncio.create_task(worker.run())
            try:
                await wait_until_async(lambda: claims == [outbox.BATCH], message="no first pass")
                await _finalize_paid(ctx, 0, ROWS, notify_url)
                await wait_until_async(
                    lambda: len(bodies) == ROWS, timeout=60, message="not all delivered"
                )
            finally:
                # Stopped as at shutdown within the grace time: the pass under way records
                # what it sent before the worker ends.
                ctx.stopping.set()
                ctx.outbox_wakeup.set()
                await running
                await worker.aclose()
            assert ctx.payments.handover is None

    with serve(counting_shop(bodies), port) as shop_url:
        asyncio.run(queue_and_deliver(f"{shop_url}/notify"))
    assert sorted(bodies) == sorted(f"row={n}".encode() for n in range(ROWS))
    assert claims == [outbox.BATCH]  # the one of the first pass, before anything was queued
    rows, attempts = asyncio.run(_stored(database_url))
    assert {(row["status"], row["attempts"], row["lease_owner"]) for row in rows} == {
        ("delivered", 1, None)
    }
    assert attempts == ROWS


def test_what_was_handed_over_but_not_sent_is_given_back_when_the_worker_stops(
    database_url: str, tmp_path: Path
) -> None:
    """Queued while the worker waits on a shop that does not answer, then the process stops:
    every row is free for another process now, none stays leased for a minute."""
    bodies: list[bytes] = []
    gate = Gate()  # never opened: the shop holds every delivery
    port = reserve_port()
    settings = _settings(tmp_path, database_url, port)

    async def stopped_while_busy(notify_url: str) -> None:
        async with (
            open_context(settings, load_mapping(), run_migrations=False) as ctx,
            _running(OutboxWorker(ctx)),
        ):
            await _finalize_paid(ctx, 0, 1, notify_url)
            await wait_until_async(
                lambda: len(bodies) == 1, timeout=30, message="no delivery reached the shop"
            )
            await _finalize_paid(ctx, 1, 3, notify_url)  # handed over, not yet sent

    with serve(gated_shop(bodies, gate), port) as shop_url:
        asyncio.run(stopped_while_busy(f"{shop_url}/notify"))
        gate.opened.set()
    rows, attempts = asyncio.run(_stored(database_url))
    assert len(rows) == 4
    assert {(row["status"], row["attempts"], row["lease_owner"]) for row in rows} == {
        ("pending", 0, None)
    }
    assert attempts == 0
