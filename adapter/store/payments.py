"""Queries on payments and the shop-notification outbox."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    Update,
    and_,
    bindparam,
    case,
    func,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from adapter.errors import DuplicateTransID
from adapter.model import Event, Payment, PaymentState, ShopDetails, ShopNotice
from adapter.store.db import Database
from adapter.store.journal import write_events
from adapter.store.leases import Leases, Schedule, new_owner
from adapter.store.statements import Statement, inserting, one_of
from adapter.store.tables import notifications, notify_attempts, payments, row_columns


@dataclass(frozen=True)
class Settling:
    """The final state a settlement sets: one for a payment whose cancel was requested, one
    for the others."""

    otherwise: PaymentState
    if_cancel_requested: PaymentState


@dataclass(frozen=True)
class Notification:
    id: int
    pay_id: str
    final_state: PaymentState
    url: str
    status: str  # pending | delivered | dead (the schedule ran out)
    attempts: int
    body: str | None  # None only for rows queued before bodies were stored (revision 0005)


@dataclass(frozen=True)
class DueNotification(Notification):
    """A notification leased for delivery, with its payment's merchant (None when the payment is
    no longer stored), so a delivery needs no read of its own."""

    merchant_id: str | None


@dataclass(frozen=True)
class DeliveryAttempt:
    """One URLNotify attempt to store; an undelivered one without a next attempt is dead."""

    notification_id: int
    at: datetime
    http_status: int | None
    error: str | None
    duration_ms: int
    delivered: bool
    next_attempt_at: datetime | None

    @property
    def status(self) -> str:
        if self.delivered:
            return "delivered"
        return "pending" if self.next_attempt_at else "dead"


@dataclass(frozen=True)
class NotificationSelection:
    """Undelivered notifications an operator picked: by id, by payment, by merchant; with
    ``dead_only`` only those whose retries ran out. At least one part must be set."""

    ids: tuple[int, ...] = ()
    pay_id: str | None = None
    merchant_id: str | None = None
    dead_only: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.ids or self.pay_id or self.merchant_id or self.dead_only)


def payment_from_row(row: RowMapping | Mapping[str, Any]) -> Payment:
    """A payment from a row holding :data:`PAYMENT_COLUMNS`."""
    return Payment(
        pay_id=row["pay_id"],
        merchant_id=row["merchant_id"],
        trans_id=row["trans_id"],
        xid=row["xid"],
        amount=int(row["amount"]),
        currency=row["currency"],
        state=PaymentState(row["state"]),
        details=ShopDetails(**json.loads(row["details"])),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        result_code=row["result_code"],
        alipay_payment_id=row["alipay_payment_id"],
        checkout_url=row["checkout_url"],
        cancel_requested=bool(row["cancel_requested"]),
    )


PAYMENT_COLUMNS = row_columns(payments)


def queue_notification(
    conn: Connection, pay_id: str, state: PaymentState, notice: ShopNotice, now: datetime
) -> None:
    """Queue the one shop notification of a final state, inside the caller's transaction."""
    _QUEUE_NOTIFICATION.rowcount(
        conn,
        pay_id=pay_id,
        final_state=state.value,
        url=notice.url,
        body=notice.body,
        next_attempt_at=now,
        created_at=now,
    )


_QUEUED_COLUMNS = ("pay_id", "final_state", "url", "body", "next_attempt_at", "created_at")
_QUEUE_NOTIFICATION = inserting(notifications, _QUEUED_COLUMNS, status="pending", attempts=0)
_QUEUE_LEASED_NOTIFICATION = inserting(
    notifications,
    (*_QUEUED_COLUMNS, "lease_owner", "lease_until"),
    returning=notifications.c.id,
    status="pending",
    attempts=0,
)


@dataclass(frozen=True)
class Handover:
    """This process's running outbox, taking the shop notifications the process queues itself.

    Each is written already leased to the process for ``lease``, so no claim (a write and a
    read of its merchant) comes before its delivery, and handed to ``take`` once its
    transaction has committed. Should the process end first, the lease runs out and any
    process claims the row (docs/performance.md#known-traps).
    """

    lease: timedelta
    take: Callable[[Sequence[DueNotification]], None]


class _Queued:
    """The shop notifications one transaction queues; handed over after it committed."""

    def __init__(self, handover: Handover | None, owner: str) -> None:
        self._handover = handover
        self._owner = owner
        self._leased: list[DueNotification] = []

    def add(
        self,
        conn: Connection,
        payment: Payment,
        notice: ShopNotice,
        now: datetime,
    ) -> None:
        """Queue the final state ``payment`` is in, inside the transaction of ``conn``."""
        if self._handover is None:
            queue_notification(conn, payment.pay_id, payment.state, notice, now)
            return
        notification_id = _QUEUE_LEASED_NOTIFICATION.scalar(
            conn,
            pay_id=payment.pay_id,
            final_state=payment.state.value,
            url=notice.url,
            body=notice.body,
            next_attempt_at=now,
            created_at=now,
            lease_owner=self._owner,
            lease_until=now + self._handover.lease,
        )
        self._leased.append(
            DueNotification(
                id=notification_id,
                pay_id=payment.pay_id,
                final_state=payment.state,
                url=notice.url,
                status="pending",
                attempts=0,
                body=notice.body,
                merchant_id=payment.merchant_id,
            )
        )

    def hand_over(self) -> None:
        if self._handover is not None and self._leased:
            self._handover.take(self._leased)


def _notification(row: RowMapping | Mapping[str, Any]) -> Notification:
    return Notification(
        id=row["id"],
        pay_id=row["pay_id"],
        final_state=PaymentState(row["final_state"]),
        url=row["url"],
        status=row["status"],
        attempts=row["attempts"],
        body=row["body"],
    )


_PAYMENT_BY_ID = Statement(select(*PAYMENT_COLUMNS).where(payments.c.pay_id == bindparam("pay_id")))
_PAYMENT_BY_TRANS_ID = Statement(
    select(*PAYMENT_COLUMNS).where(
        payments.c.merchant_id == bindparam("merchant_id"),
        payments.c.trans_id == bindparam("trans_id"),
    )
)
_INSERT_PAYMENT = inserting(
    payments,
    (
        "pay_id",
        "merchant_id",
        "trans_id",
        "xid",
        "ref_nr",
        "amount",
        "currency",
        "state",
        "details",
        "cancel_requested",
        "created_at",
        "updated_at",
        "next_check_at",
    ),
)


def _moving(from_states: tuple[str, ...], columns: tuple[str, ...]) -> Update:
    """Set a payment's state (and ``columns``) if it is in one of ``from_states``."""
    return (
        update(payments)
        .where(
            payments.c.pay_id == bindparam("moved_pay_id"),
            one_of(payments.c.state, from_states),
        )
        .values(
            {
                "state": bindparam("new_state"),
                "updated_at": bindparam("now"),
                **{column: bindparam(column) for column in columns},
            }
        )
    )


@functools.cache
def _move(from_states: tuple[str, ...], columns: tuple[str, ...]) -> Statement:
    return Statement(_moving(from_states, columns))


@functools.cache
def _finalizing(from_states: tuple[str, ...], columns: tuple[str, ...]) -> Statement:
    """:func:`_move`, answering with the row as it is now stored."""
    return Statement(_moving(from_states, columns).returning(*PAYMENT_COLUMNS))


@functools.cache
def _settling(from_states: tuple[str, ...], columns: tuple[str, ...], priced: bool) -> Statement:
    """Settle a payment in one of ``from_states`` (and, if ``priced``, of the amount given): in
    ``if_cancel_requested`` once a cancel was requested, else in ``new_state``; answering with
    the row as it is now stored."""
    where = [
        payments.c.pay_id == bindparam("settled_pay_id"),
        one_of(payments.c.state, from_states),
    ]
    if priced:
        where += [
            payments.c.amount == bindparam("amount"),
            payments.c.currency == bindparam("currency"),
        ]
    state = case(
        (payments.c.cancel_requested, bindparam("if_cancel_requested", type_=String)),
        else_=bindparam("new_state", type_=String),
    )
    return Statement(
        update(payments)
        .where(*where)
        .values(
            {
                "state": state,
                "updated_at": bindparam("now"),
                **{column: bindparam(column) for column in columns},
            }
        )
        .returning(*PAYMENT_COLUMNS)
    )


@functools.cache
def _claiming_notifications(limit: int) -> Statement:
    due = and_(
        notifications.c.status == "pending", notifications.c.next_attempt_at <= bindparam("now")
    )
    return _NOTIFICATION_LEASES.claiming(
        due, oldest_first=notifications.c.next_attempt_at, limit=limit
    )


_MERCHANT_OF = Statement(
    select(payments.c.merchant_id).where(payments.c.pay_id == bindparam("pay_id"))
)


def _merchants_of(conn: Connection, pay_ids: Collection[str]) -> dict[str, str]:
    """The merchant of each of these payments, each read by primary key.

    One compiled read per payment: an ``IN`` list built per claim costs SQLAlchemy's statement
    construction and compilation, about ten times the reads themselves.
    """
    merchants = {}
    for pay_id in pay_ids:
        row = _MERCHANT_OF.first(conn, pay_id=pay_id)
        if row is not None:
            merchants[pay_id] = row["merchant_id"]
    return merchants


_INSERT_ATTEMPT = inserting(
    notify_attempts, ("notification_id", "attempted_at", "http_status", "error", "duration_ms")
)
_AFTER_ATTEMPT = Statement(
    update(notifications)
    .where(notifications.c.id == bindparam("attempted_id"))
    .values(
        status=bindparam("new_status"),
        attempts=notifications.c.attempts + 1,
        lease_owner=None,
        lease_until=None,
        next_attempt_at=bindparam("next_at"),
    )
)
_PAYMENT_LEASES = Leases(payments)
_SCHEDULE = Schedule(payments)
_NOTIFICATION_LEASES = Leases(notifications)
_RECONCILED_STATES = (PaymentState.PENDING, PaymentState.UNKNOWN)
_RECONCILED = [s.value for s in _RECONCILED_STATES]


@dataclass(frozen=True)
class DuePayment:
    """An open payment due for the reconciler, and how often it was looked at before."""

    payment: Payment
    checks: int


class PaymentStore:
    """All payment persistence; each method is one transaction.

    ``owner`` names this process's leases; a new payment is first due for reconciliation
    ``first_check_after`` its creation.
    """

    def __init__(
        self,
        db: Database,
        *,
        owner: str | None = None,
        first_check_after: timedelta = timedelta(0),
    ) -> None:
        self.db = db
        self.owner = owner or new_owner()
        self.first_check_after = first_check_after
        # Set while this process's outbox runs (adapter.core.outbox).
        self.handover: Handover | None = None

    async def insert(self, payment: Payment, *, events: Sequence[Event] = ()) -> None:
        values = {
            "pay_id": payment.pay_id,
            "merchant_id": payment.merchant_id,
            "trans_id": payment.trans_id,
            "xid": payment.xid,
            "ref_nr": payment.details.ref_nr,
            "amount": payment.amount,
            "currency": payment.currency,
            "state": payment.state.value,
            "details": json.dumps(dataclasses.asdict(payment.details), separators=(",", ":")),
            "cancel_requested": False,
            "created_at": payment.created_at,
            "updated_at": payment.updated_at,
            "next_check_at": payment.created_at + self.first_check_after,
        }

        def work(conn: Connection) -> None:
            _INSERT_PAYMENT.rowcount(conn, **values)
            write_events(conn, events)

        try:
            await self.db.write(work)
        except IntegrityError:
            raise DuplicateTransID(payment.trans_id) from None

    async def _first(self, query: Statement, **params: str) -> Payment | None:
        row = await self.db.read(lambda conn: query.first(conn, **params))
        return payment_from_row(row) if row else None

    async def get(self, pay_id: str) -> Payment | None:
        return await self._first(_PAYMENT_BY_ID, pay_id=pay_id)

    async def by_trans_id(self, merchant_id: str, trans_id: str) -> Payment | None:
        return await self._first(_PAYMENT_BY_TRANS_ID, merchant_id=merchant_id, trans_id=trans_id)

    async def mark_open(
        self,
        pay_id: str,
        state: PaymentState,
        *,
        now: datetime,
        from_states: Collection[PaymentState],
        events: Sequence[Event] = (),
        **values: Any,
    ) -> bool:
        """Move a still-open payment to another open state (PENDING or UNKNOWN)."""
        statement = _move(tuple(s.value for s in from_states), tuple(sorted(values)))

        def work(conn: Connection) -> bool:
            moved = statement.rowcount(
                conn, moved_pay_id=pay_id, new_state=state.value, now=now, **values
            )
            if moved != 1:
                return False
            write_events(conn, events)
            return True

        return await self.db.write(work)

    async def finalize(
        self,
        pay_id: str,
        state: PaymentState,
        *,
        now: datetime,
        from_states: Collection[PaymentState],
        notice: ShopNotice | None,
        events: Sequence[Event] = (),
        **values: Any,
    ) -> Payment | None:
        """Apply a final state and queue its one shop notification, atomically; the payment as
        now stored.

        Returns None when the payment had already left ``from_states`` (a concurrent notify,
        return or inquiry got there first): nothing is written then.
        """

        statement = _finalizing(tuple(s.value for s in from_states), tuple(sorted(values)))
        queued = _Queued(self.handover, self.owner)

        def work(conn: Connection) -> Payment | None:
            moved = statement.rows(
                conn, moved_pay_id=pay_id, new_state=state.value, now=now, **values
            )
            if len(moved) != 1:
                return None
            stored = payment_from_row(moved[0])
            if notice is not None:
                queued.add(conn, stored, notice, now)
            write_events(conn, events)
            return stored

        stored = await self.db.write(work)
        queued.hand_over()
        return stored

    async def settle(
        self,
        pay_id: str,
        states: Settling,
        *,
        price: tuple[int, str] | None,
        now: datetime,
        from_states: Collection[PaymentState],
        complete: Callable[[Payment], tuple[ShopNotice | None, Sequence[Event]]],
        **values: Any,
    ) -> Payment | None:
        """Settle the payment in one write, if it is in ``from_states`` and, with a ``price``
        (amount, currency), costs that: the state ``states`` picks by its cancel flag, with
        ``values``. ``complete`` gives the settled payment's shop notification and events,
        queued and written in the same transaction. The payment as now stored, or None when
        nothing was written (unknown, another price, or no longer in ``from_states``).
        """
        statement = _settling(
            tuple(s.value for s in from_states), tuple(sorted(values)), price is not None
        )
        amount, currency = price if price is not None else (None, None)
        queued = _Queued(self.handover, self.owner)

        def work(conn: Connection) -> Payment | None:
            moved = statement.rows(
                conn,
                settled_pay_id=pay_id,
                new_state=states.otherwise.value,
                if_cancel_requested=states.if_cancel_requested.value,
                amount=amount,
                currency=currency,
                now=now,
                **values,
            )
            if len(moved) != 1:
                return None
            stored = payment_from_row(moved[0])
            notice, events = complete(stored)
            if notice is not None:
                queued.add(conn, stored, notice, now)
            write_events(conn, events)
            return stored

        settled = await self.db.write(work)
        queued.hand_over()
        return settled

    async def claim_due_notifications(
        self, *, now: datetime, lease: timedelta, limit: int = 20
    ) -> list[DueNotification]:
        """Lease pending notifications that are due, so only one worker delivers each."""
        claiming = _claiming_notifications(limit)

        def work(conn: Connection) -> list[DueNotification]:
            rows = _NOTIFICATION_LEASES.claim(
                conn,
                claiming,
                oldest_first=notifications.c.next_attempt_at,
                owner=self.owner,
                now=now,
                ttl=lease,
            )
            # A subquery in RETURNING would read the merchant too, but SQLite scans every
            # payment for it there (docs/performance.md#known-traps).
            claimed = [_notification(row) for row in rows]
            merchant_of = _merchants_of(conn, {n.pay_id for n in claimed}) if claimed else {}
            return [
                DueNotification(**vars(n), merchant_id=merchant_of.get(n.pay_id)) for n in claimed
            ]

        return await self.db.write(work)

    async def record_attempts(
        self, attempts: Sequence[DeliveryAttempt], events: Sequence[Event] = ()
    ) -> None:
        """Store delivery attempts and their events in one transaction."""

        def work(conn: Connection) -> None:
            _INSERT_ATTEMPT.many(
                conn,
                [
                    {
                        "notification_id": a.notification_id,
                        "attempted_at": a.at,
                        "http_status": a.http_status,
                        "error": a.error,
                        "duration_ms": a.duration_ms,
                    }
                    for a in attempts
                ],
            )
            _AFTER_ATTEMPT.many(
                conn,
                [
                    {
                        "attempted_id": a.notification_id,
                        "new_status": a.status,
                        "next_at": a.next_attempt_at or a.at,
                    }
                    for a in attempts
                ],
            )
            write_events(conn, events)

        await self.db.write(work)

    async def release_notifications(self, ids: Sequence[int]) -> None:
        """Give back this process's leases on these notifications (it stops before their turn)."""
        if not ids:
            return
        where = notifications.c.id.in_(ids)
        await self.db.write(
            lambda conn: _NOTIFICATION_LEASES.release(conn, where, owner=self.owner)
        )

    async def requeue_notifications(
        self,
        selection: NotificationSelection,
        *,
        now: datetime,
        hold_for: timedelta | None,
        event_for: Callable[[Notification, str], Event],
    ) -> list[DueNotification]:
        """Make the selected undelivered notifications due now, with their retry schedule as it
        stands (a dead one gets one attempt; if that fails it is dead again); each gets the event
        ``event_for(notification, merchant_id)``, in the same transaction.

        A notification being delivered right now is left alone. With ``hold_for`` the rows are
        leased to this store's owner, so that no outbox takes them while the caller delivers them
        itself; without, the next outbox pass does.
        """
        if selection.is_empty:
            raise ValueError("select notifications by id, payment, merchant or dead_only")
        where = [
            notifications.c.status.in_(["dead"] if selection.dead_only else ["pending", "dead"]),
            _NOTIFICATION_LEASES.free(now),
        ]
        if selection.ids:
            where.append(notifications.c.id.in_(selection.ids))
        if selection.pay_id:
            where.append(notifications.c.pay_id == selection.pay_id)
        if selection.merchant_id:
            of_merchant = select(payments.c.pay_id).where(
                payments.c.merchant_id == selection.merchant_id
            )
            where.append(notifications.c.pay_id.in_(of_merchant))
        chosen = and_(*where)
        candidates = select(notifications.c.id).where(chosen).with_for_update(skip_locked=True)
        lease = (
            {"lease_owner": self.owner, "lease_until": now + hold_for}
            if hold_for is not None
            else {"lease_owner": None, "lease_until": None}
        )
        statement = (
            update(notifications)
            .where(notifications.c.id.in_(candidates.scalar_subquery()), chosen)
            .values(status="pending", next_attempt_at=now, **lease)
            .returning(*notifications.c)
        )

        def work(conn: Connection) -> list[DueNotification]:
            requeued = sorted(
                (_notification(row) for row in conn.execute(statement).mappings()),
                key=lambda n: n.id,
            )
            if not requeued:
                return []
            merchant_of = _merchants_of(conn, {n.pay_id for n in requeued})
            write_events(conn, [event_for(n, merchant_of[n.pay_id]) for n in requeued])
            return [DueNotification(**vars(n), merchant_id=merchant_of[n.pay_id]) for n in requeued]

        return await self.db.write(work)

    async def notification(self, notification_id: int) -> Notification | None:
        query = select(notifications).where(notifications.c.id == notification_id)
        row = await self.db.read(lambda conn: conn.execute(query).mappings().first())
        return _notification(row) if row else None

    async def notifications_for(self, pay_id: str) -> list[Notification]:
        query = (
            select(notifications)
            .where(notifications.c.pay_id == pay_id)
            .order_by(notifications.c.id)
        )
        rows = await self.db.read(lambda conn: conn.execute(query).mappings().all())
        return [_notification(row) for row in rows]

    async def dead_notifications(self, limit: int = 50) -> list[Notification]:
        """Notifications whose retry schedule ran out, the oldest first."""
        query = (
            select(notifications)
            .where(notifications.c.status == "dead")
            .order_by(notifications.c.id)
            .limit(limit)
        )
        rows = await self.db.read(lambda conn: conn.execute(query).mappings().all())
        return [_notification(row) for row in rows]

    async def attempts_for(self, notification_id: int) -> list[dict[str, Any]]:
        query = (
            select(notify_attempts)
            .where(notify_attempts.c.notification_id == notification_id)
            .order_by(notify_attempts.c.id)
        )
        rows = await self.db.read(lambda conn: conn.execute(query).mappings().all())
        return [dict(row) for row in rows]

    async def open_payments_created_before(
        self, cutoff: datetime, limit: int = 50
    ) -> list[Payment]:
        return await self._open_payments(payments.c.created_at, cutoff, limit)

    async def new_payments_created_before(self, cutoff: datetime, limit: int = 50) -> list[Payment]:
        """Payments still waiting for their first pay answer since before ``cutoff``."""
        return await self._open_payments(
            payments.c.created_at, cutoff, limit, states=(PaymentState.NEW,)
        )

    async def _open_payments(
        self,
        moment: ColumnElement[datetime],
        cutoff: datetime,
        limit: int,
        states: Collection[PaymentState] = (PaymentState.PENDING, PaymentState.UNKNOWN),
    ) -> list[Payment]:
        """Payments in ``states`` whose ``moment`` is before ``cutoff``, the earliest first."""
        query = (
            select(*PAYMENT_COLUMNS)
            .where(and_(payments.c.state.in_([s.value for s in states]), moment < cutoff))
            .order_by(moment)
            .limit(limit)
        )
        rows = await self.db.read(lambda conn: conn.execute(query).mappings().all())
        return [payment_from_row(row) for row in rows]

    async def take_lease(self, pay_id: str, *, now: datetime, ttl: timedelta) -> bool:
        """Hold the payment for this process (its lock across processes); False if taken."""
        where = payments.c.pay_id == pay_id
        return await self.db.write(
            lambda conn: _PAYMENT_LEASES.take(conn, where, owner=self.owner, now=now, ttl=ttl)
        )

    async def release_lease(self, pay_id: str) -> None:
        where = payments.c.pay_id == pay_id
        await self.db.write(lambda conn: _PAYMENT_LEASES.release(conn, where, owner=self.owner))

    async def claim_due(
        self, *, now: datetime, hold_for: timedelta, limit: int
    ) -> list[DuePayment]:
        """Open payments the reconciler is due to look at (see ``leases.Schedule``)."""
        rows = await self.db.write(
            lambda conn: _SCHEDULE.claim(
                conn, payments.c.state.in_(_RECONCILED), now=now, hold_for=hold_for, limit=limit
            )
        )
        return [DuePayment(payment_from_row(row), row["checks"]) for row in rows]

    async def checked(self, pay_id: str, *, next_check_at: datetime) -> None:
        """The reconciler looked at it; it is due again at ``next_check_at``."""
        await self.db.write(lambda conn: _SCHEDULE.checked(conn, pay_id, next_check_at))

    async def levels(self, now: datetime) -> tuple[dict[str, int], dict[str, int], int]:
        """For the metrics: notifications pending and dead, open payments by state, and how
        many open payments are due for the reconciler."""
        notification_counts = (
            select(notifications.c.status, func.count())
            .where(notifications.c.status.in_(["pending", "dead"]))
            .group_by(notifications.c.status)
        )
        open_states = [s.value for s in (PaymentState.NEW, *_RECONCILED_STATES)]
        payment_counts = (
            select(payments.c.state, func.count())
            .where(payments.c.state.in_(open_states))
            .group_by(payments.c.state)
        )
        due = (
            select(func.count())
            .select_from(payments)
            .where(payments.c.state.in_(_RECONCILED), payments.c.next_check_at <= now)
        )

        def read(conn: Connection) -> tuple[dict[str, int], dict[str, int], int]:
            queued = {str(k): int(v) for k, v in conn.execute(notification_counts).all()}
            open_ = {str(k): int(v) for k, v in conn.execute(payment_counts).all()}
            return queued, open_, int(conn.execute(due).scalar_one())

        return await self.db.read(read)

    async def count(self) -> int:
        query = select(func.count()).select_from(payments)
        return int(await self.db.read(lambda conn: conn.execute(query).scalar_one()))
