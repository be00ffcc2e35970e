"""Claiming work in a database that several adapter processes share.

Several adapter processes share one database. Whoever works on a row (delivers a notification,
answers a ReqId, holds a payment's lock) first takes the row's lease: its ``lease_owner`` and
``lease_until`` columns. A row is free when it has no lease or its lease has passed, so the work
of a killed process is taken over once its lease expires, and nobody waits for a dead owner.

Taking a lease is one conditional UPDATE, atomic on SQLite and PostgreSQL alike. Taking several
at once selects them with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent claimers divide
the rows between them instead of queueing behind each other (SQLite has one writer anyway).

Rows the reconciler revisits on a schedule carry a due time instead (:class:`Schedule`): claiming
them pushes the due time ahead, which is a lease without an owner. Another process's pass skips
them meanwhile, and if the claimer dies they simply fall due again.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BindParameter,
    Column,
    ColumnElement,
    Connection,
    Table,
    and_,
    bindparam,
    or_,
    select,
    update,
)
from sqlalchemy.engine import RowMapping

from adapter.store.statements import Row, Statement


def new_owner() -> str:
    """A name for this process's leases: host and pid for the operator, a nonce for uniqueness."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Leases:
    """The lease columns of one table."""

    table: Table

    def free(self, now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
        until = self.table.c.lease_until
        return or_(until.is_(None), until < now)

    def held_by(self, owner: str) -> ColumnElement[bool]:
        return self.table.c.lease_owner == owner

    def take(
        self,
        conn: Connection,
        where: ColumnElement[bool],
        *,
        owner: str,
        now: datetime,
        ttl: timedelta,
    ) -> bool:
        """Lease the row ``where`` selects if it is free; False if someone else holds it."""
        taken = conn.execute(
            update(self.table)
            .where(and_(where, self.free(now)))
            .values(lease_owner=owner, lease_until=now + ttl)
        )
        return taken.rowcount == 1

    def claiming(
        self, where: ColumnElement[bool], *, oldest_first: Column[datetime], limit: int
    ) -> Statement:
        """The statement that leases up to ``limit`` free rows matching ``where``, earliest
        ``oldest_first`` first; ``where`` may use the parameter ``now``. Built once, run by
        :meth:`claim`."""
        (key,) = self.table.primary_key.columns
        now: BindParameter[datetime] = bindparam("now")
        candidates = (
            select(key)
            .where(and_(where, self.free(now)))
            .order_by(oldest_first)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return Statement(
            update(self.table)
            .where(key.in_(candidates.scalar_subquery()), self.free(now))
            .values(lease_owner=bindparam("owner"), lease_until=bindparam("until"))
            .returning(*self.table.c)
        )

    def claim(
        self,
        conn: Connection,
        claiming: Statement,
        *,
        oldest_first: Column[datetime],
        owner: str,
        now: datetime,
        ttl: timedelta,
    ) -> list[Row]:
        """Run a :meth:`claiming` statement: the rows it leased, earliest ``oldest_first`` first
        (RETURNING has no order)."""
        rows = claiming.rows(conn, now=now, owner=owner, until=now + ttl)
        return sorted(rows, key=lambda row: row[oldest_first.name])

    def release(self, conn: Connection, where: ColumnElement[bool], *, owner: str) -> int:
        """Give back the rows ``where`` selects that ``owner`` still holds; how many."""
        released = conn.execute(
            update(self.table)
            .where(and_(where, self.held_by(owner)))
            .values(lease_owner=None, lease_until=None)
        )
        return int(released.rowcount)


@dataclass(frozen=True)
class Schedule:
    """The reconciler's schedule columns of one table: ``next_check_at`` and ``checks``."""

    table: Table

    def claim(
        self,
        conn: Connection,
        where: ColumnElement[bool],
        *,
        now: datetime,
        hold_for: timedelta,
        limit: int,
    ) -> list[RowMapping]:
        """Take up to ``limit`` rows matching ``where`` whose due time has come, earliest first,
        pushing it ``hold_for`` ahead; the claimer sets the next due time when it is done."""
        (key,) = self.table.primary_key.columns
        due = self.table.c.next_check_at
        is_due = and_(where, due <= now)
        candidates = (
            select(key).where(is_due).order_by(due).limit(limit).with_for_update(skip_locked=True)
        )
        statement = (
            update(self.table)
            .where(key.in_(candidates.scalar_subquery()), is_due)
            .values(next_check_at=now + hold_for)
            .returning(*self.table.c)
        )
        rows = conn.execute(statement).mappings().all()
        return sorted(rows, key=lambda row: row["created_at"])

    def checked(self, conn: Connection, row_id: str, next_check_at: datetime) -> None:
        """The row was looked at once more; it is due again at ``next_check_at``."""
        (key,) = self.table.primary_key.columns
        conn.execute(
            update(self.table)
            .where(key == row_id)
            .values(next_check_at=next_check_at, checks=self.table.c.checks + 1)
        )
