"""What operators read: the payments list, notifications that need a look with their attempts,
and the overview's aggregates. Read only; what operators change goes through the core
(``core.operator``), and the console and the CLI both read through here.

The payments list pages newest first with a keyset, ``(created_at, pay_id)`` after the last row
shown, never an offset: every page is a short range of an index (migration 0007) whatever the
table's size, and rows stored meanwhile never shift a page or repeat a row.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    and_,
    func,
    literal,
    or_,
    select,
    union,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from adapter.model import (
    OPEN_OPERATION_STATES,
    OperationKind,
    OperationState,
    PaymentState,
)
from adapter.store.db import Database
from adapter.store.tables import notifications, notify_attempts, operations, payments

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RECONCILED = [PaymentState.PENDING.value, PaymentState.UNKNOWN.value]
_OPEN_STEPS = [s.value for s in OPEN_OPERATION_STATES]
_CURSOR = re.compile(r"(\d{1,18})-([0-9A-Za-z]{1,32})")


@dataclass(frozen=True)
class PaymentFilter:
    """What the payments list shows; unset parts do not filter."""

    merchant_id: str | None = None
    state: PaymentState | None = None
    created_from: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive
    search: str | None = None  # exactly a PayID, a TransID or a RefNr


@dataclass(frozen=True)
class Cursor:
    """The last row of a page: the next page starts after it."""

    created_at: datetime
    pay_id: str

    def encode(self) -> str:
        micros = (self.created_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}-{self.pay_id}"

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        """The cursor ``encode`` wrote, or None for anything else."""
        match = _CURSOR.fullmatch(text)
        if match is None:
            return None
        created_at = _EPOCH + timedelta(microseconds=int(match.group(1)))
        return cls(created_at, match.group(2))


@dataclass(frozen=True)
class PaymentLine:
    """A payment as the list shows it."""

    pay_id: str
    merchant_id: str
    trans_id: str
    ref_nr: str | None
    amount: int
    currency: str
    state: PaymentState
    result_code: str | None
    created_at: datetime


@dataclass(frozen=True)
class PaymentPage:
    payments: list[PaymentLine]
    next: Cursor | None  # None on the last page


class Backlog(StrEnum):
    """Which shop notifications a list shows."""

    FAILED = "failed"  # failing or dead: not delivered, at least one attempt failed
    FAILING = "failing"  # not delivered yet, at least one attempt failed; retries are due
    DEAD = "dead"  # the retries ran out
    UNDELIVERED = "undelivered"  # failing, dead, and those not tried yet


@dataclass(frozen=True)
class Attempt:
    notification_id: int
    attempted_at: datetime
    http_status: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300


@dataclass(frozen=True)
class NotificationLine:
    """A shop notification with its payment's keys and its latest attempt."""

    id: int
    pay_id: str
    merchant_id: str
    trans_id: str
    final_state: PaymentState
    url: str
    status: str  # pending | delivered | dead
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    last_attempt: Attempt | None


@dataclass(frozen=True)
class Bucket:
    """Payments created in one slice of time, by how they stand now."""

    start: datetime
    created: int = 0
    succeeded: int = 0
    failed: int = 0  # FAILED or CANCELLED
    open: int = 0

    @property
    def success_rate(self) -> float | None:
        """Paid among those that ended; None while none has."""
        ended = self.succeeded + self.failed
        return self.succeeded / ended if ended else None


@dataclass(frozen=True)
class Volume:
    """Money of one currency in the window: created, paid, credited (minor units)."""

    currency: str
    payments: int
    paid: int
    credited: int


@dataclass(frozen=True)
class NotifyBacklog:
    pending: int  # not delivered yet, retries left
    due: int  # of those, due now
    failing: int  # of those, at least one attempt failed
    dead: int
    oldest_pending_at: datetime | None


@dataclass(frozen=True)
class AgeBand:
    """Open payments created between ``older_than`` and ``younger_than`` ago."""

    older_than: timedelta
    younger_than: timedelta | None
    count: int


# Where the open payments' ages are cut.
AGE_CUTS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(days=1),
)


class _SliceIndex(FunctionElement[int]):
    """Which ``seconds``-long slice from ``start`` a timestamp column falls in (0, 1, ...)."""

    type = Integer()
    inherit_cache = True


@compiles(_SliceIndex, "sqlite")
def _slice_sqlite(element: _SliceIndex, compiler: SQLCompiler, **kw: Any) -> str:
    column, start, seconds = (compiler.process(arg, **kw) for arg in element.clauses)
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC; integer division floors positive values.
    return f"((CAST(strftime('%s', {column}) AS INTEGER) - {start}) / {seconds})"


@compiles(_SliceIndex, "postgresql")
def _slice_postgresql(element: _SliceIndex, compiler: SQLCompiler, **kw: Any) -> str:
    column, start, seconds = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"CAST(FLOOR((EXTRACT(EPOCH FROM {column}) - {start}) / {seconds}) AS INTEGER)"


def _epoch_seconds(moment: datetime) -> int:
    return int((moment - _EPOCH).total_seconds())


def _newest_first_after(cursor: Cursor) -> ColumnElement[bool]:
    """Rows after ``cursor`` in (created_at, pay_id) descending order; written as a range on
    created_at plus a tie-break, which both databases read from the index."""
    created, pay_id = payments.c.created_at, payments.c.pay_id
    return and_(
        created <= cursor.created_at,
        or_(created < cursor.created_at, pay_id < cursor.pay_id),
    )


def _payment_filter(chosen: PaymentFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if chosen.merchant_id:
        where.append(payments.c.merchant_id == chosen.merchant_id)
    if chosen.state is not None:
        where.append(payments.c.state == chosen.state.value)
    if chosen.created_from is not None:
        where.append(payments.c.created_at >= chosen.created_from)
    if chosen.created_before is not None:
        where.append(payments.c.created_at < chosen.created_before)
    if chosen.search:
        text = chosen.search
        where.append(
            or_(
                payments.c.pay_id == text,
                payments.c.trans_id == text,
                payments.c.ref_nr == text,
            )
        )
    return where


_LINE_COLUMNS = (
    payments.c.pay_id,
    payments.c.merchant_id,
    payments.c.trans_id,
    payments.c.ref_nr,
    payments.c.amount,
    payments.c.currency,
    payments.c.state,
    payments.c.result_code,
    payments.c.created_at,
)


def _line(row: RowMapping) -> PaymentLine:
    return PaymentLine(
        pay_id=row["pay_id"],
        merchant_id=row["merchant_id"],
        trans_id=row["trans_id"],
        ref_nr=row["ref_nr"],
        amount=int(row["amount"]),
        currency=row["currency"],
        state=PaymentState(row["state"]),
        result_code=row["result_code"],
        created_at=row["created_at"],
    )


def _attempt(row: RowMapping) -> Attempt:
    return Attempt(
        notification_id=row["notification_id"],
        attempted_at=row["attempted_at"],
        http_status=row["http_status"],
        error=row["error"],
        duration_ms=row["duration_ms"],
    )


def _backlog_filter(backlog: Backlog) -> ColumnElement[bool]:
    status = notifications.c.status
    if backlog is Backlog.DEAD:
        return status == "dead"
    if backlog is Backlog.FAILING:
        return and_(status == "pending", notifications.c.attempts > 0)
    if backlog is Backlog.FAILED:
        return and_(status.in_(["pending", "dead"]), notifications.c.attempts > 0)
    return status.in_(["pending", "dead"])


class OperatorQueries:
    """Each method is one read."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _rows(self, query: Any) -> Sequence[RowMapping]:
        return await self.db.read(lambda conn: conn.execute(query).mappings().all())

    async def payments_page(
        self, chosen: PaymentFilter, *, after: Cursor | None = None, limit: int = 50
    ) -> PaymentPage:
        """Up to ``limit`` payments matching ``chosen``, newest first, after ``after``."""
        where = _payment_filter(chosen)
        if after is not None:
            where.append(_newest_first_after(after))
        query = (
            select(*_LINE_COLUMNS)
            .where(*where)
            .order_by(payments.c.created_at.desc(), payments.c.pay_id.desc())
            .limit(limit + 1)  # one more tells whether a next page exists
        )
        lines = [_line(row) for row in await self._rows(query)]
        if len(lines) <= limit:
            return PaymentPage(lines, None)
        shown = lines[:limit]
        return PaymentPage(shown, Cursor(shown[-1].created_at, shown[-1].pay_id))

    async def attempts(self, notification_ids: Collection[int]) -> dict[int, list[Attempt]]:
        """Every attempt of these notifications, oldest first, by notification."""
        if not notification_ids:
            return {}
        query = (
            select(notify_attempts)
            .where(notify_attempts.c.notification_id.in_(list(notification_ids)))
            .order_by(notify_attempts.c.id)
        )
        found: dict[int, list[Attempt]] = defaultdict(list)
        for row in await self._rows(query):
            found[row["notification_id"]].append(_attempt(row))
        return dict(found)

    async def notifications(
        self,
        backlog: Backlog,
        *,
        merchant_id: str | None = None,
        pay_id: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[NotificationLine]:
        """Notifications of ``backlog``, the newest first, with their latest attempt; the next
        page starts ``before_id`` the last one shown."""
        where = [_backlog_filter(backlog)]
        if merchant_id:
            where.append(payments.c.merchant_id == merchant_id)
        if pay_id:
            where.append(notifications.c.pay_id == pay_id)
        if before_id is not None:
            where.append(notifications.c.id < before_id)
        query = (
            select(notifications, payments.c.merchant_id, payments.c.trans_id)
            .join(payments, payments.c.pay_id == notifications.c.pay_id)
            .where(and_(*where))
            .order_by(notifications.c.id.desc())
            .limit(limit)
        )
        rows = await self._rows(query)
        latest = await self._latest_attempts([row["id"] for row in rows])
        return [
            NotificationLine(
                id=row["id"],
                pay_id=row["pay_id"],
                merchant_id=row["merchant_id"],
                trans_id=row["trans_id"],
                final_state=PaymentState(row["final_state"]),
                url=row["url"],
                status=row["status"],
                attempts=row["attempts"],
                next_attempt_at=row["next_attempt_at"],
                created_at=row["created_at"],
                last_attempt=latest.get(row["id"]),
            )
            for row in rows
        ]

    async def _latest_attempts(self, notification_ids: list[int]) -> dict[int, Attempt]:
        if not notification_ids:
            return {}
        newest = (
            select(func.max(notify_attempts.c.id))
            .where(notify_attempts.c.notification_id.in_(notification_ids))
            .group_by(notify_attempts.c.notification_id)
        )
        query = select(notify_attempts).where(notify_attempts.c.id.in_(newest))
        return {row["notification_id"]: _attempt(row) for row in await self._rows(query)}

    async def activity(
        self, *, since: datetime, until: datetime, slice_seconds: int
    ) -> tuple[list[Bucket], list[Volume]]:
        """Payments created in [since, until): per slice of ``slice_seconds`` by outcome, and
        per currency with the amounts paid and credited."""
        start = _epoch_seconds(since)
        index = _SliceIndex(
            payments.c.created_at, literal(start, Integer), literal(slice_seconds, Integer)
        ).label("slice")
        window = and_(payments.c.created_at >= since, payments.c.created_at < until)
        by_slice = (
            select(
                index,
                payments.c.state,
                payments.c.currency,
                func.count().label("n"),
                func.sum(payments.c.amount).label("amount"),
            )
            .where(window)
            .group_by(index, payments.c.state, payments.c.currency)
        )
        credited = (
            select(operations.c.currency, func.sum(operations.c.amount).label("amount"))
            .where(
                operations.c.state == OperationState.SUCCESS.value,
                operations.c.kind == OperationKind.CREDIT.value,
                operations.c.updated_at >= since,
                operations.c.updated_at < until,
            )
            .group_by(operations.c.currency)
        )

        def read(conn: Connection) -> tuple[list[RowMapping], list[RowMapping]]:
            slices = list(conn.execute(by_slice).mappings())
            return slices, list(conn.execute(credited).mappings())

        slices, credits = await self.db.read(read)
        span = _epoch_seconds(until) - start
        count = max(1, -(-span // slice_seconds))  # slices, the last one maybe partial
        return _buckets(since, slice_seconds, count, slices), _volumes(slices, credits)

    async def notify_backlog(self, *, now: datetime) -> NotifyBacklog:
        status = notifications.c.status
        pending = status == "pending"
        query = select(
            func.count().filter(pending).label("pending"),
            func.count().filter(and_(pending, notifications.c.next_attempt_at <= now)).label("due"),
            func.count().filter(and_(pending, notifications.c.attempts > 0)).label("failing"),
            func.count().filter(status == "dead").label("dead"),
            func.min(notifications.c.created_at).filter(pending).label("oldest"),
        ).where(status.in_(["pending", "dead"]))
        (row,) = await self._rows(query)
        return NotifyBacklog(
            pending=int(row["pending"]),
            due=int(row["due"]),
            failing=int(row["failing"]),
            dead=int(row["dead"]),
            oldest_pending_at=row["oldest"],
        )

    async def open_by_age(self, *, now: datetime) -> list[AgeBand]:
        """Open payments (NEW, PENDING, UNKNOWN) counted by how long ago they were created."""
        created = payments.c.created_at
        edges = [timedelta(0), *AGE_CUTS]
        columns = []
        for number, younger in enumerate([*AGE_CUTS, None]):
            older = edges[number]
            band = created <= now - older
            if younger is not None:
                band = and_(band, created > now - younger)
            columns.append(func.count().filter(band).label(f"band{number}"))
        query = select(*columns).where(
            payments.c.state.in_([s.value for s in PaymentState if not s.is_final])
        )
        (row,) = await self._rows(query)
        return [
            AgeBand(edges[number], younger, int(row[f"band{number}"]))
            for number, younger in enumerate([*AGE_CUTS, None])
        ]

    async def reconcile_candidates(
        self, *, merchant_id: str | None = None, since: datetime | None = None
    ) -> list[str]:
        """PayIDs with something to ask Alipay+ about: open payments and payments with open
        credits or reversals, the oldest first."""
        open_payments = select(payments.c.pay_id).where(payments.c.state.in_(_RECONCILED))
        with_open_steps = select(operations.c.pay_id).where(operations.c.state.in_(_OPEN_STEPS))
        candidates = union(open_payments, with_open_steps).subquery()
        where: list[ColumnElement[bool]] = [payments.c.pay_id.in_(select(candidates.c.pay_id))]
        if merchant_id:
            where.append(payments.c.merchant_id == merchant_id)
        if since is not None:
            where.append(payments.c.created_at >= since)
        query = (
            select(payments.c.pay_id)
            .where(and_(*where))
            .order_by(payments.c.created_at, payments.c.pay_id)
        )
        return [row["pay_id"] for row in await self._rows(query)]

    async def merchants_with_payments(self) -> list[str]:
        query = select(payments.c.merchant_id).distinct().order_by(payments.c.merchant_id)
        return [row["merchant_id"] for row in await self._rows(query)]


def _buckets(
    since: datetime, slice_seconds: int, count: int, rows: list[RowMapping]
) -> list[Bucket]:
    tallies = [[0, 0, 0, 0] for _ in range(count)]  # created, succeeded, failed, open
    for row in rows:
        number = int(row["slice"])
        if not 0 <= number < count:
            continue
        n = int(row["n"])
        state = PaymentState(row["state"])
        tally = tallies[number]
        tally[0] += n
        if state is PaymentState.SUCCESS:
            tally[1] += n
        elif state.is_final:
            tally[2] += n
        else:
            tally[3] += n
    step = timedelta(seconds=slice_seconds)
    return [Bucket(since + number * step, *tally) for number, tally in enumerate(tallies)]


def _volumes(slices: list[RowMapping], credits: list[RowMapping]) -> list[Volume]:
    created: dict[str, int] = defaultdict(int)
    paid: dict[str, int] = defaultdict(int)
    for row in slices:
        created[row["currency"]] += int(row["n"])
        if row["state"] == PaymentState.SUCCESS.value:
            paid[row["currency"]] += int(row["amount"])
    credited = {row["currency"]: int(row["amount"]) for row in credits}
    return [
        Volume(currency, created.get(currency, 0), paid.get(currency, 0), credited.get(currency, 0))
        for currency in sorted(created.keys() | credited.keys())
    ]
