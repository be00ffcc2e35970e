"""The benchmark fills the adapter's own schema with rows the adapter reads back, whatever
columns the schema gains, and asks both sides' databases the same questions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, Text

from adapter.model import PaymentState
from adapter.store.db import Database, migrate
from adapter.store.payments import PaymentStore
from tests.bench.stores import (
    AdapterStore,
    FloorStore,
    complete_row,
    effective_pragmas,
    new_payments,
)
from tests.bench.world import World

WORLD = World("BenchShop", "h" * 32, "b" * 16, "", "", "http://127.0.0.1:1", "http://127.0.0.1:2")


def test_complete_row_fills_only_required_columns_it_was_not_given() -> None:
    table = Table(
        "t",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("name", String(8), nullable=False),
        Column("count", Integer, nullable=False),
        Column("flag", Boolean, nullable=False, default=False),
        Column("note", Text),
        Column("added_later", Text, nullable=False),
    )
    row = complete_row(table, {"name": "x", "gone": 1}, datetime.now(UTC))
    assert row == {"name": "x", "count": 0, "added_later": ""}


def test_payments_stored_by_the_benchmark_are_read_by_the_adapter(tmp_path: Path) -> None:
    path = tmp_path / "adapter.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    asyncio.run(migrate(url))
    store = AdapterStore(path, WORLD)
    paid = new_payments("A", 2, 500, "EUR", PaymentState.SUCCESS)
    waiting = new_payments("B", 1, 500, "EUR", PaymentState.PENDING)
    store.add_payments(paid + waiting)

    async def read() -> list[PaymentState | None]:
        db = Database(url)
        try:
            found = [await PaymentStore(db).get(p.pay_id) for p in paid + waiting]
            return [p.state if p else None for p in found]
        finally:
            await db.dispose()

    assert asyncio.run(read()) == [PaymentState.SUCCESS, PaymentState.SUCCESS, PaymentState.PENDING]
    everyone = [p.pay_id for p in paid + waiting]
    assert store.paid(everyone) == {p.pay_id for p in paid}
    assert store.created(["B-0"]) == {"B-0": (waiting[0].pay_id, 500, "PENDING")}
    assert (store.credited(everyone), store.reversed(everyone)) == ({}, set())
    assert store.notifications_pending() == 0


def test_the_floor_gets_the_sqlite_settings_the_adapter_runs_with(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'adapter.sqlite3'}"
    pragmas = asyncio.run(effective_pragmas(url))
    assert pragmas["journal_mode"] == "wal"
    floor = FloorStore(tmp_path / "floor.sqlite3", WORLD, pragmas)
    assert floor.db.execute("PRAGMA synchronous").fetchone()[0] == pragmas["synchronous"]
    assert floor.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
