"""The migrations build the schema the queries are written against (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, insert

from adapter.model import OperationState, PaymentState
from adapter.store.db import Database, migrate
from adapter.store.operations import OperationStore
from adapter.store.payments import PaymentStore
from adapter.store.tables import metadata, operations, payments
from tests.support.models import NOW, a_payment, a_step
from tests.support.postgres import create_database, drop_database


async def test_the_migrated_schema_matches_the_table_definitions(store: PaymentStore) -> None:
    def differences(conn: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    assert await store.db.read(differences) == []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/adapter.sqlite3"
        return
    url = await create_database()
    yield url
    await drop_database(url)


async def test_a_step_stored_before_refund_instead_existed_survives_the_upgrade(
    empty_database_url: str,
) -> None:
    await migrate(empty_database_url, "0002")
    db = Database(empty_database_url)
    payment, step = a_payment(state=PaymentState.SUCCESS), a_step(amount=40)

    def insert_rows(conn: Connection) -> None:
        # Only columns revision 0002 has: refund_instead comes with 0003.
        conn.execute(
            insert(payments).values(
                pay_id=payment.pay_id,
                merchant_id=payment.merchant_id,
                trans_id=payment.trans_id,
                xid=payment.xid,
                amount=payment.amount,
                currency=payment.currency,
                state=payment.state.value,
                details="{}",
                created_at=NOW,
                updated_at=NOW,
            )
        )
        conn.execute(
            insert(operations).values(
                xid=step.xid,
                pay_id=step.pay_id,
                merchant_id=step.merchant_id,
                kind=step.kind.value,
                trans_id=step.trans_id,
                amount=step.amount,
                currency=step.currency,
                state=OperationState.UNKNOWN.value,
                details="{}",
                created_at=NOW,
                updated_at=NOW,
            )
        )

    try:
        await db.write(insert_rows)
        await migrate(empty_database_url)
        stored = await OperationStore(db).get(step.xid)
    finally:
        await db.dispose()
    assert stored is not None
    assert (stored.state, stored.amount, stored.refund_instead) == (
        OperationState.UNKNOWN,
        40,
        False,
    )
