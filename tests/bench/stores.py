"""Both sides' databases as the benchmark sees them: filled before a run, read after it.

The adapter's rows go through its own table definitions (``adapter.store.tables``) into the
schema its own migration made, filled by :func:`complete_row` so that a column added by a
refactor gets a value without this file knowing it. The floor's rows go into its own two
tables. After a run, the same questions are asked of both: what was credited, reversed, paid,
created.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Column, Engine, Table, create_engine, event, func, insert, select

from adapter.model import OperationKind, OperationState, PaymentState, ShopDetails
from adapter.store import tables
from adapter.store.db import Database
from tests.bench.floor import connect
from tests.bench.world import World

CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class NewPayment:
    pay_id: str
    trans_id: str
    amount: int
    currency: str
    state: PaymentState  # SUCCESS (paid) or PENDING (waiting for its notify)


def new_payments(
    prefix: str, count: int, amount: int, currency: str, state: PaymentState
) -> list[NewPayment]:
    return [
        NewPayment(secrets.token_hex(16), f"{prefix}-{n}", amount, currency, state)
        for n in range(count)
    ]


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _placeholder(column: Column[Any], now: datetime) -> object:
    try:
        # A TypeDecorator (UTCDateTime) names its Python type through the type it decorates.
        python_type = getattr(column.type, "impl", column.type).python_type
    except NotImplementedError:
        return ""
    if python_type is datetime:
        return now
    if python_type in (bool, int):
        return python_type()
    return ""


def _needs_value(column: Column[Any]) -> bool:
    if column.nullable or column.default is not None or column.server_default is not None:
        return False
    # An integer primary key numbers itself.
    return not (column.primary_key and column.autoincrement in (True, "auto"))


def complete_row(table: Table, given: Mapping[str, object], now: datetime) -> dict[str, object]:
    """The given values of ``table``'s columns, plus a placeholder for every required column
    not given (NOT NULL without default); given names the table lacks are left out."""
    row: dict[str, object] = {}
    for column in table.columns:
        if column.name in given:
            row[column.name] = given[column.name]
        elif _needs_value(column):
            row[column.name] = _placeholder(column, now)
    return row


async def effective_pragmas(database_url: str) -> dict[str, object]:
    """The SQLite settings the adapter's own Database applies, read back from a connection."""
    db = Database(database_url)
    try:
        names = ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")

        def read(conn: Any) -> dict[str, object]:
            return {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in names}

        return await db.read(read)
    finally:
        await db.dispose()


class Store(Protocol):
    """What the benchmark asks of each side's database."""

    def add_payments(self, payments: Sequence[NewPayment]) -> None: ...

    def credited(self, pay_ids: Sequence[str]) -> dict[str, int]: ...

    def reversed(self, pay_ids: Sequence[str]) -> set[str]: ...

    def paid(self, pay_ids: Sequence[str]) -> set[str]: ...

    def created(self, trans_ids: Sequence[str]) -> dict[str, tuple[str, int, str]]:
        """TransID -> (PayID, Amount, state) of the payments the checkouts stored."""
        ...

    def notifications_pending(self) -> int: ...


class AdapterStore:
    def __init__(self, path: Path, world: World) -> None:
        self.engine: Engine = create_engine(f"sqlite:///{path}")
        event.listen(self.engine, "connect", _busy_timeout)
        self._world = world

    def _row(self, payment: NewPayment, now: datetime) -> dict[str, object]:
        paid = payment.state is PaymentState.SUCCESS
        details = ShopDetails(
            url_success=f"{self._world.shop_url}/ok",
            url_failure=f"{self._world.shop_url}/no",
            url_notify=self._world.shop_notify_url,
            order_desc="bench",
        )
        given = {
            "pay_id": payment.pay_id,
            "merchant_id": self._world.merchant_id,
            "trans_id": payment.trans_id,
            "xid": secrets.token_hex(16),
            "amount": payment.amount,
            "currency": payment.currency,
            "state": payment.state.value,
            "result_code": "SUCCESS" if paid else None,
            "alipay_payment_id": secrets.token_hex(12),
            "checkout_url": None if paid else f"{self._world.checkout_base}{payment.pay_id}",
            "details": json.dumps(asdict(details), separators=(",", ":")),
            "cancel_requested": False,
            "created_at": now,
            "updated_at": now,
            # Not due for the reconciler during the run: its inquiries are not the endpoint's
            # work, and would settle the open payments the notify runs are about to settle.
            "next_check_at": now + timedelta(days=1),
        }
        return complete_row(tables.payments, given, now)

    def add_payments(self, payments: Sequence[NewPayment]) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(insert(tables.payments), [self._row(p, now) for p in payments])

    def credited(self, pay_ids: Sequence[str]) -> dict[str, int]:
        ops = tables.operations
        found: dict[str, int] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(pay_ids):
                query = (
                    select(ops.c.pay_id, func.sum(ops.c.amount))
                    .where(
                        ops.c.pay_id.in_(chunk),
                        ops.c.kind == OperationKind.CREDIT.value,
                        ops.c.state == OperationState.SUCCESS.value,
                    )
                    .group_by(ops.c.pay_id)
                )
                found.update({pay_id: int(total) for pay_id, total in conn.execute(query)})
        return found

    def _payments_in(self, pay_ids: Sequence[str], state: PaymentState) -> set[str]:
        payments = tables.payments
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(pay_ids):
                query = select(payments.c.pay_id).where(
                    payments.c.pay_id.in_(chunk), payments.c.state == state.value
                )
                found.update(conn.execute(query).scalars())
        return found

    def reversed(self, pay_ids: Sequence[str]) -> set[str]:
        return self._payments_in(pay_ids, PaymentState.CANCELLED)

    def paid(self, pay_ids: Sequence[str]) -> set[str]:
        return self._payments_in(pay_ids, PaymentState.SUCCESS)

    def created(self, trans_ids: Sequence[str]) -> dict[str, tuple[str, int, str]]:
        payments = tables.payments
        found: dict[str, tuple[str, int, str]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(trans_ids):
                query = select(
                    payments.c.trans_id, payments.c.pay_id, payments.c.amount, payments.c.state
                ).where(
                    payments.c.merchant_id == self._world.merchant_id,
                    payments.c.trans_id.in_(chunk),
                )
                for trans_id, pay_id, amount, state in conn.execute(query):
                    found[trans_id] = (pay_id, int(amount), state)
        return found

    def notifications_pending(self) -> int:
        notifications = tables.notifications
        query = select(func.count()).where(notifications.c.status == "pending")
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


def _busy_timeout(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA busy_timeout=10000")


class FloorStore:
    def __init__(self, path: Path, world: World, pragmas: Mapping[str, object]) -> None:
        self.db = connect(path, pragmas)
        self._world = world

    def add_payments(self, payments: Sequence[NewPayment]) -> None:
        now = datetime.now(UTC).isoformat()
        rows = [
            (
                p.pay_id,
                self._world.merchant_id,
                p.trans_id,
                secrets.token_hex(16),
                p.amount,
                p.currency,
                p.state.value,
                secrets.token_hex(12),
                None,
                now,
            )
            for p in payments
        ]
        self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO floor_payments VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        self.db.execute("COMMIT")

    def _select(self, sql: str, ids: Sequence[str]) -> Iterable[tuple[Any, ...]]:
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            yield from self.db.execute(sql.format(marks=marks), list(chunk))

    def credited(self, pay_ids: Sequence[str]) -> dict[str, int]:
        sql = (
            "SELECT pay_id, SUM(amount) FROM floor_steps WHERE pay_id IN ({marks})"
            " AND kind = 'credit' AND state = 'SUCCESS' GROUP BY pay_id"
        )
        return {pay_id: int(total) for pay_id, total in self._select(sql, pay_ids)}

    def reversed(self, pay_ids: Sequence[str]) -> set[str]:
        sql = (
            "SELECT pay_id FROM floor_steps WHERE pay_id IN ({marks})"
            " AND kind = 'reverse' AND state = 'SUCCESS'"
        )
        return {pay_id for (pay_id,) in self._select(sql, pay_ids)}

    def paid(self, pay_ids: Sequence[str]) -> set[str]:
        sql = "SELECT pay_id FROM floor_payments WHERE pay_id IN ({marks}) AND state = 'SUCCESS'"
        return {pay_id for (pay_id,) in self._select(sql, pay_ids)}

    def created(self, trans_ids: Sequence[str]) -> dict[str, tuple[str, int, str]]:
        sql = (
            "SELECT trans_id, pay_id, amount, state FROM floor_payments WHERE trans_id IN ({marks})"
        )
        return {row[0]: (row[1], int(row[2]), row[3]) for row in self._select(sql, trans_ids)}

    def notifications_pending(self) -> int:
        return 0  # the floor sends the shop nothing


def adapter_pragmas(database_url: str) -> dict[str, object]:
    return asyncio.run(effective_pragmas(database_url))
