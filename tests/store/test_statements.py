from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from adapter.store.db import Database
from adapter.store.payments import PaymentStore
from adapter.store.statements import Statement, one_of
from adapter.store.tables import events, operations, payments

AT = datetime(2026, 12, 6, 12, 30, 5, 123456, tzinfo=UTC)

_INSERT_EVENT = Statement(
    insert(events).values(
        at=bindparam("at"), hop=bindparam("hop"), name="n", actor="adapter", detail=None
    )
)
_EVENTS_AT_OR_BEFORE = Statement(select(events).where(events.c.at <= bindparam("until")))
_MARK_CANCEL = Statement(
    update(payments)
    .where(payments.c.pay_id == bindparam("p"), one_of(payments.c.state, ["NEW", "PENDING"]))
    .values(cancel_requested=bindparam("requested"))
)


def _db(store: PaymentStore) -> Database:
    return store.db


async def test_values_go_in_and_come_back_through_the_column_types(store: PaymentStore) -> None:
    db = _db(store)
    await db.write(lambda conn: _INSERT_EVENT.many(conn, [{"at": AT, "hop": "a"}] * 2))
    rows = await db.read(lambda conn: _EVENTS_AT_OR_BEFORE.rows(conn, until=AT))
    assert [(row["at"], row["hop"], row["name"]) for row in rows] == [(AT, "a", "n")] * 2
    assert rows[0]["at"].tzinfo is UTC
    earlier = await db.read(
        lambda conn: _EVENTS_AT_OR_BEFORE.rows(conn, until=AT.replace(second=4))
    )
    assert earlier == []


async def test_what_sqlalchemy_stores_a_statement_reads_alike(store: PaymentStore) -> None:
    db = _db(store)
    await db.write(
        lambda conn: conn.execute(insert(events).values(at=AT, hop="b", name="m", actor="x"))
    )
    (row,) = await db.read(lambda conn: _EVENTS_AT_OR_BEFORE.rows(conn, until=AT))
    assert (row["at"], row["hop"]) == (AT, "b")


async def test_a_conditional_update_counts_the_rows_it_changed(store: PaymentStore) -> None:
    db = _db(store)
    changed = await db.write(lambda conn: _MARK_CANCEL.rowcount(conn, p="none", requested=True))
    assert changed == 0


async def test_a_driver_error_is_raised_as_sqlalchemys_and_rolls_the_transaction_back(
    store: PaymentStore,
) -> None:
    db = _db(store)
    step = Statement(insert(operations).values(xid=bindparam("xid")))  # NOT NULL columns unset

    def work(conn: Connection) -> None:
        _INSERT_EVENT.many(conn, [{"at": AT, "hop": "c"}])
        step.rowcount(conn, xid="x")

    with pytest.raises(IntegrityError):
        await db.write(work)
    assert await db.read(lambda conn: _EVENTS_AT_OR_BEFORE.rows(conn, until=AT)) == []


def test_one_of_takes_constant_words_only() -> None:
    with pytest.raises(ValueError, match="constant"):
        one_of(payments.c.state, ["PAID'); DROP TABLE payments; --"])


async def test_an_expanding_in_is_refused_when_compiled(store: PaymentStore) -> None:
    expanding = Statement(select(payments).where(payments.c.state.in_(["NEW", "PENDING"])))
    with pytest.raises(ValueError, match="one_of"):
        await _db(store).read(lambda conn: expanding.rows(conn))
