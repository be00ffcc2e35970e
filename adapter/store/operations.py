"""Queries on credits and reversals, and the money rules that must hold across processes.

Every reservation starts by writing the payment's row (a no-op update). On PostgreSQL that takes
the row lock, so reservations for one payment run one after the other and each sees the others'
committed rows; on SQLite the first write takes the database write lock for the rest of the
transaction (and within one process transactions never interleave, see ``db.Database``).
Either way no two credits can both see room for themselves.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    bindparam,
    case,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from adapter.model import (
    OPEN_OPERATION_STATES,
    OPEN_STATES,
    Event,
    Operation,
    OperationDetails,
    OperationKind,
    OperationState,
    PaymentStanding,
    PaymentState,
    ShopNotice,
)
from adapter.store.db import Database
from adapter.store.journal import write_events
from adapter.store.leases import Schedule
from adapter.store.payments import queue_notification
from adapter.store.statements import Statement, inserting, one_of
from adapter.store.tables import operations, payments, row_columns

_SCHEDULE = Schedule(operations)

# Credits that count against the paid amount: done ones and those that may still happen.
_COUNTED = [s.value for s in (*OPEN_OPERATION_STATES, OperationState.SUCCESS)]
_OPEN = [s.value for s in OPEN_OPERATION_STATES]


class Refusal(StrEnum):
    """Why a step was not reserved; nothing was written then."""

    NOT_ALLOWED = "not_allowed"  # the payment's state does not allow this step
    EXCEEDS = "exceeds"  # the credit would take more than was paid
    HAS_CREDITS = "has_credits"  # a reversal after credits would return money twice
    DUPLICATE = "duplicate"  # another step already uses this ReqId


@dataclass(frozen=True)
class Reserved:
    operation: Operation


@dataclass(frozen=True)
class Joined:
    """A reversal is already open for the payment: the new request follows that one."""

    operation: Operation


Reservation = Reserved | Joined | Refusal


_READ_COLUMNS = row_columns(operations)


def _operation(row: RowMapping | Mapping[str, Any]) -> Operation:
    return Operation(
        xid=row["xid"],
        pay_id=row["pay_id"],
        merchant_id=row["merchant_id"],
        kind=OperationKind(row["kind"]),
        trans_id=row["trans_id"],
        amount=int(row["amount"]),
        currency=row["currency"],
        state=OperationState(row["state"]),
        details=OperationDetails(**json.loads(row["details"])),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        req_id=row["req_id"],
        result_code=row["result_code"],
        alipay_id=row["alipay_id"],
        refund_instead=row["refund_instead"],
    )


def _values(op: Operation, first_check_after: timedelta) -> dict[str, object]:
    return {
        "xid": op.xid,
        "pay_id": op.pay_id,
        "merchant_id": op.merchant_id,
        "kind": op.kind.value,
        "trans_id": op.trans_id,
        "req_id": op.req_id,
        "refund_instead": op.refund_instead,
        "amount": op.amount,
        "currency": op.currency,
        "state": op.state.value,
        "details": json.dumps(dataclasses.asdict(op.details), separators=(",", ":")),
        "created_at": op.created_at,
        "updated_at": op.updated_at,
        "next_check_at": op.created_at + first_check_after,
    }


_STEPS_OF_PAYMENT = Statement(
    select(*_READ_COLUMNS)
    .where(operations.c.pay_id == bindparam("pay_id"))
    .order_by(operations.c.created_at, operations.c.xid)
)
_FINISHED_STEP_STATES = [s.value for s in OperationState if s.is_final]
_OF_THE_PAYMENT = operations.c.pay_id == payments.c.pay_id
_STANDING = Statement(
    select(
        payments.c.pay_id,
        payments.c.merchant_id,
        payments.c.trans_id,
        payments.c.xid,
        payments.c.ref_nr,
        payments.c.amount,
        payments.c.currency,
        payments.c.state,
        payments.c.result_code,
        # The state is summed over, not searched by: with a lone state in the WHERE, SQLite
        # without statistics searched every successful step by the state index, 46 ms a read
        # at 100,000 credits (docs/performance.md#known-traps).
        select(
            func.coalesce(
                func.sum(
                    case(
                        (
                            one_of(operations.c.state, [OperationState.SUCCESS.value]),
                            operations.c.amount,
                        ),
                        else_=literal_column("0"),
                    )
                ),
                literal_column("0"),
            )
        )
        .where(_OF_THE_PAYMENT, one_of(operations.c.kind, [OperationKind.CREDIT.value]))
        .scalar_subquery()
        .label("credited"),
        select(operations.c.state)
        .where(_OF_THE_PAYMENT, one_of(operations.c.state, _FINISHED_STEP_STATES))
        .order_by(operations.c.created_at.desc(), operations.c.xid.desc())
        .limit(literal_column("1"))
        .scalar_subquery()
        .label("last_step"),
    ).where(payments.c.pay_id == bindparam("pay_id"))
)
_STEP_BY_XID = Statement(select(*_READ_COLUMNS).where(operations.c.xid == bindparam("xid")))
_STEP_BY_REQ_ID = Statement(
    select(*_READ_COLUMNS).where(
        operations.c.merchant_id == bindparam("merchant_id"),
        operations.c.kind == bindparam("kind"),
        operations.c.req_id == bindparam("req_id"),
    )
)
_NEWEST_STEP_BY_TRANS_ID = Statement(
    select(*_READ_COLUMNS)
    .where(
        operations.c.pay_id == bindparam("pay_id"),
        operations.c.kind == bindparam("kind"),
        operations.c.trans_id == bindparam("trans_id"),
    )
    .order_by(operations.c.created_at.desc())
    .limit(1)
)
_STEP_COLUMNS = (
    "xid",
    "pay_id",
    "merchant_id",
    "kind",
    "trans_id",
    "req_id",
    "refund_instead",
    "amount",
    "currency",
    "state",
    "details",
    "created_at",
    "updated_at",
    "next_check_at",
)
_INSERT_STEP = inserting(operations, _STEP_COLUMNS)


def _payment_lock(*where: ColumnElement[bool]) -> Statement:
    """Take the payment's lock (see the module docstring), if the row matches ``where``."""
    return Statement(
        update(payments)
        .where(payments.c.pay_id == bindparam("locked_pay_id"), *where)
        .values(updated_at=payments.c.updated_at)
    )


# A credit needs a paid payment that no reversal is under way for.
_LOCK_CREDITABLE = _payment_lock(
    payments.c.state == PaymentState.SUCCESS.value, payments.c.cancel_requested.is_(False)
)
_LOCK_REVERSIBLE = _payment_lock(
    one_of(payments.c.state, [s.value for s in (*OPEN_STATES, PaymentState.SUCCESS)])
)
_CREDITS_TAKEN = Statement(
    select(func.coalesce(func.sum(operations.c.amount), literal_column("0"))).where(
        operations.c.pay_id == bindparam("pay_id"),
        operations.c.kind == OperationKind.CREDIT.value,
        one_of(operations.c.state, _COUNTED),
    )
)
_COUNTED_STEPS = Statement(
    select(*_READ_COLUMNS).where(
        operations.c.pay_id == bindparam("pay_id"), one_of(operations.c.state, _COUNTED)
    )
)
_REQUEST_CANCEL = Statement(
    update(payments)
    .where(payments.c.pay_id == bindparam("cancelled_pay_id"))
    .values(cancel_requested=bindparam("requested"), updated_at=bindparam("now"))
)
_CANCEL_OPEN_PAYMENT = Statement(
    update(payments)
    .where(
        payments.c.pay_id == bindparam("cancelled_pay_id"),
        one_of(payments.c.state, [s.value for s in OPEN_STATES]),
    )
    .values(
        state=PaymentState.CANCELLED.value,
        result_code=bindparam("result_code"),
        updated_at=bindparam("now"),
    )
)
_CANCEL_PAID_PAYMENT = Statement(
    update(payments)
    .where(
        payments.c.pay_id == bindparam("cancelled_pay_id"),
        payments.c.state == PaymentState.SUCCESS.value,
    )
    .values(state=PaymentState.CANCELLED.value, updated_at=bindparam("now"))
)
_FINISH_STEP = Statement(
    update(operations)
    .where(operations.c.xid == bindparam("step_xid"), one_of(operations.c.state, _OPEN))
    .values(
        state=bindparam("new_state"),
        result_code=bindparam("new_result_code"),
        alipay_id=bindparam("new_alipay_id"),
        updated_at=bindparam("now"),
    )
)
_MARK_UNKNOWN = Statement(
    update(operations)
    .where(operations.c.xid == bindparam("step_xid"), one_of(operations.c.state, _OPEN))
    .values(state=OperationState.UNKNOWN.value, updated_at=bindparam("now"))
)
_REFUND_INSTEAD = Statement(
    update(operations)
    .where(operations.c.xid == bindparam("step_xid"), one_of(operations.c.state, _OPEN))
    .values(refund_instead=True, updated_at=bindparam("now"))
)


def _locked(conn: Connection, lock: Statement, pay_id: str) -> bool:
    return lock.rowcount(conn, locked_pay_id=pay_id) == 1


def _finish(
    conn: Connection,
    xid: str,
    state: OperationState,
    now: datetime,
    result_code: str,
    alipay_id: str | None = None,
) -> bool:
    changed = _FINISH_STEP.rowcount(
        conn,
        step_xid=xid,
        new_state=state.value,
        new_result_code=result_code,
        new_alipay_id=alipay_id,
        now=now,
    )
    return changed == 1


@dataclass(frozen=True)
class DueStep:
    """An open step due for the reconciler, and how often it was looked at before."""

    operation: Operation
    checks: int


def _changed(conn: Connection, statement: Statement, events: Sequence[Event], **given: Any) -> bool:
    """Run a conditional update; its events are written only if it changed the row."""
    if statement.rowcount(conn, **given) != 1:
        return False
    write_events(conn, events)
    return True


class OperationStore:
    """All credit/reversal persistence; each method is one transaction.

    A new step is first due for reconciliation ``first_check_after`` its creation.
    """

    def __init__(self, db: Database, *, first_check_after: timedelta = timedelta(0)) -> None:
        self.db = db
        self.first_check_after = first_check_after

    async def _reserve(self, work: Callable[[Connection], Reservation]) -> Reservation:
        """Run a reservation; a step that already holds its ReqId makes it a DUPLICATE."""
        try:
            return await self.db.write(work)
        except IntegrityError:
            return Refusal.DUPLICATE

    async def reserve_credit(
        self, op: Operation, *, paid: int, events: Sequence[Event] = ()
    ) -> Reservation:
        """Insert the credit unless the payment is not SUCCESS or it would exceed ``paid``."""

        def work(conn: Connection) -> Reservation:
            if not _locked(conn, _LOCK_CREDITABLE, op.pay_id):
                return Refusal.NOT_ALLOWED
            taken = _CREDITS_TAKEN.scalar(conn, pay_id=op.pay_id)
            if int(taken) + op.amount > paid:
                return Refusal.EXCEEDS
            _INSERT_STEP.rowcount(conn, **_values(op, self.first_check_after))
            write_events(conn, events)
            return Reserved(op)

        return await self._reserve(work)

    async def reserve_reversal(self, op: Operation, *, events: Sequence[Event] = ()) -> Reservation:
        """Mark the payment cancel-requested and insert the reversal, or join an open one."""

        def work(conn: Connection) -> Reservation:
            if not _locked(conn, _LOCK_REVERSIBLE, op.pay_id):
                return Refusal.NOT_ALLOWED
            steps = [_operation(row) for row in _COUNTED_STEPS.rows(conn, pay_id=op.pay_id)]
            if any(step.kind is OperationKind.CREDIT for step in steps):
                return Refusal.HAS_CREDITS
            for step in steps:
                if step.kind is OperationKind.REVERSE and not step.state.is_final:
                    return Joined(step)
            _REQUEST_CANCEL.rowcount(
                conn, cancelled_pay_id=op.pay_id, requested=True, now=op.created_at
            )
            _INSERT_STEP.rowcount(conn, **_values(op, self.first_check_after))
            write_events(conn, events)
            return Reserved(op)

        return await self._reserve(work)

    async def _first(self, query: Statement, **params: str) -> Operation | None:
        row = await self.db.read(lambda conn: query.first(conn, **params))
        return _operation(row) if row else None

    async def _all(self, query: Select[Any] | Statement, **params: str) -> list[Operation]:
        def read(conn: Connection) -> Sequence[RowMapping | Mapping[str, Any]]:
            if isinstance(query, Statement):
                return query.rows(conn, **params)
            return conn.execute(query, params).mappings().all()

        return [_operation(row) for row in await self.db.read(read)]

    async def get(self, xid: str) -> Operation | None:
        return await self._first(_STEP_BY_XID, xid=xid)

    async def by_req_id(
        self, merchant_id: str, kind: OperationKind, req_id: str
    ) -> Operation | None:
        return await self._first(
            _STEP_BY_REQ_ID, merchant_id=merchant_id, kind=kind.value, req_id=req_id
        )

    async def by_trans_id(
        self, pay_id: str, kind: OperationKind, trans_id: str
    ) -> Operation | None:
        """The newest step of this kind on the payment that the shop gave this TransID."""
        return await self._first(
            _NEWEST_STEP_BY_TRANS_ID, pay_id=pay_id, kind=kind.value, trans_id=trans_id
        )

    async def for_payment(self, pay_id: str) -> list[Operation]:
        """The payment's steps, oldest first."""
        return await self._all(_STEPS_OF_PAYMENT, pay_id=pay_id)

    async def standing(self, pay_id: str) -> PaymentStanding | None:
        """Where the payment stands, in one read: what inquire.aspx reports on."""
        row = await self.db.read(lambda conn: _STANDING.first(conn, pay_id=pay_id))
        if row is None:
            return None
        last_step = row["last_step"]
        return PaymentStanding(
            pay_id=row["pay_id"],
            merchant_id=row["merchant_id"],
            trans_id=row["trans_id"],
            xid=row["xid"],
            ref_nr=row["ref_nr"],
            amount=int(row["amount"]),
            currency=row["currency"],
            state=PaymentState(row["state"]),
            result_code=row["result_code"],
            credited=int(row["credited"]),
            last_step=None if last_step is None else OperationState(last_step),
        )

    async def mark_unknown(self, xid: str, *, now: datetime, events: Sequence[Event] = ()) -> bool:
        return await self.db.write(
            lambda conn: _changed(conn, _MARK_UNKNOWN, events, step_xid=xid, now=now)
        )

    async def refund_instead(
        self, xid: str, *, now: datetime, events: Sequence[Event] = ()
    ) -> bool:
        """Settle this open reversal by a refund of the payment from now on."""
        return await self.db.write(
            lambda conn: _changed(conn, _REFUND_INSTEAD, events, step_xid=xid, now=now)
        )

    async def finish(
        self,
        xid: str,
        state: OperationState,
        *,
        now: datetime,
        result_code: str,
        alipay_id: str | None = None,
        events: Sequence[Event] = (),
    ) -> bool:
        """Record a credit's final state; False if it was already final (nothing written)."""

        def work(conn: Connection) -> bool:
            if not _finish(conn, xid, state, now, result_code, alipay_id):
                return False
            write_events(conn, events)
            return True

        return await self.db.write(work)

    async def complete_reversal(
        self,
        op: Operation,
        *,
        now: datetime,
        result_code: str,
        notice: ShopNotice | None,
        alipay_id: str | None = None,
        events: Sequence[Event] = (),
    ) -> bool:
        """The cancel succeeded: the payment ends CANCELLED.

        An open payment reaches its first final state here, so the shop gets its one URLNotify.
        A paid one was already notified as paid; the shop asked for the reversal and has the
        answer, so no second notify contradicts the first.
        """

        def work(conn: Connection) -> bool:
            if not _finish(conn, op.xid, OperationState.SUCCESS, now, result_code, alipay_id):
                return False
            write_events(conn, events)
            cancelled = _CANCEL_OPEN_PAYMENT.rowcount(
                conn, cancelled_pay_id=op.pay_id, result_code=result_code, now=now
            )
            if cancelled == 1:
                if notice is not None:
                    queue_notification(conn, op.pay_id, PaymentState.CANCELLED, notice, now)
                return True
            _CANCEL_PAID_PAYMENT.rowcount(conn, cancelled_pay_id=op.pay_id, now=now)
            return True

        return await self.db.write(work)

    async def fail_reversal(
        self, op: Operation, *, now: datetime, result_code: str, events: Sequence[Event] = ()
    ) -> bool:
        """The cancel definitely did not happen: the payment may go on as before."""

        def work(conn: Connection) -> bool:
            if not _finish(conn, op.xid, OperationState.FAILED, now, result_code):
                return False
            write_events(conn, events)
            _REQUEST_CANCEL.rowcount(conn, cancelled_pay_id=op.pay_id, requested=False, now=now)
            return True

        return await self.db.write(work)

    async def stranded_reversals(self) -> list[Operation]:
        """Reversals of paid payments whose cancel and refund Alipay+ both refused."""
        return await self._all(
            select(*_READ_COLUMNS)
            .where(
                operations.c.refund_instead.is_(True),
                operations.c.state == OperationState.FAILED.value,
            )
            .order_by(operations.c.updated_at)
        )

    async def open_older_than(self, cutoff: datetime, limit: int = 50) -> list[Operation]:
        return await self._all(
            select(*_READ_COLUMNS)
            .where(operations.c.state.in_(_OPEN), operations.c.updated_at < cutoff)
            .order_by(operations.c.updated_at)
            .limit(limit)
        )

    async def claim_due(self, *, now: datetime, hold_for: timedelta, limit: int) -> list[DueStep]:
        """Open steps the reconciler is due to re-send (see ``leases.Schedule``)."""
        rows = await self.db.write(
            lambda conn: _SCHEDULE.claim(
                conn, operations.c.state.in_(_OPEN), now=now, hold_for=hold_for, limit=limit
            )
        )
        return [DueStep(_operation(row), row["checks"]) for row in rows]

    async def checked(self, xid: str, *, next_check_at: datetime) -> None:
        """The reconciler looked at it; it is due again at ``next_check_at``."""
        await self.db.write(lambda conn: _SCHEDULE.checked(conn, xid, next_check_at))
