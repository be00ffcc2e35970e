"""The event journal's rows: written with the transactions of the work they describe.

An event that describes a state change is handed to the store method that makes the change and
written in its transaction, only if the change happened. Every other event of a unit of work (a
request, a delivery, one look of the reconciler) rides along: it waits in the unit's list and is
written by the unit's next write transaction. What is left when the unit ends is written later,
off the request's path, in one batch (:meth:`JournalStore.append`), so the journal never adds a
write transaction of its own to a request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.engine import RowMapping

from adapter.model import Event, Hop
from adapter.store.db import Database
from adapter.store.statements import inserting
from adapter.store.tables import events

_riding: ContextVar[list[Event] | None] = ContextVar("journal_riding", default=None)


class UnitOfWork:
    """A unit of work for this task (a request, a delivery, a look): the events noted in it ride
    with its writes; what is still riding when it ends is handed to ``leftover``.

    A class rather than a generator: every request opens one, and a generator-based context
    manager costs several times more.
    """

    __slots__ = ("_leftover", "_riding", "_token")

    def __init__(self, leftover: Callable[[list[Event]], object]) -> None:
        self._leftover = leftover

    def __enter__(self) -> None:
        self._riding: list[Event] = []
        self._token = _riding.set(self._riding)

    def __exit__(self, *exc_info: object) -> None:
        _riding.reset(self._token)
        if self._riding:
            self._leftover(self._riding)


def ride(event: Event) -> bool:
    """Let ``event`` ride with the unit's next write; False when no unit is open."""
    riding = _riding.get()
    if riding is None:
        return False
    riding.append(event)
    return True


def write_riding(conn: Connection) -> None:
    """Write the events riding in this unit, inside the caller's transaction."""
    riding = _riding.get()
    if riding:
        write_events(conn, riding)
        riding.clear()


_EVENT_COLUMNS = ("at", "hop", "name", "outcome", "pay_id", "merchant_id", "actor", "detail")
_INSERT_EVENTS = inserting(events, _EVENT_COLUMNS)


def write_events(conn: Connection, rows: Iterable[Event]) -> None:
    _INSERT_EVENTS.many(conn, [_values(event) for event in rows])


def _values(event: Event) -> dict[str, Any]:
    return {
        "at": event.at,
        "hop": event.hop.value,
        "name": event.name[:64],
        "outcome": None if event.outcome is None else event.outcome[:64],
        "pay_id": event.pay_id,
        "merchant_id": event.merchant_id,
        "actor": event.actor[:64],
        "detail": json.dumps(dict(event.detail), separators=(",", ":")) if event.detail else None,
    }


def _event(row: RowMapping) -> Event:
    return Event(
        at=row["at"],
        hop=Hop(row["hop"]),
        name=row["name"],
        outcome=row["outcome"],
        pay_id=row["pay_id"],
        merchant_id=row["merchant_id"],
        detail=json.loads(row["detail"]) if row["detail"] else {},
        actor=row["actor"],
    )


class JournalStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def append(self, rows: Sequence[Event]) -> None:
        """Write events outside any unit (what units left over), in one transaction."""
        if rows:
            await self.db.write(lambda conn: write_events(conn, rows))

    async def timeline(self, pay_id: str) -> list[Event]:
        """Every hop of the payment, in the order they happened."""
        query = select(events).where(events.c.pay_id == pay_id).order_by(events.c.at, events.c.id)
        rows = await self.db.read(lambda conn: conn.execute(query).mappings().all())
        return [_event(row) for row in rows]

    async def between(self, start: datetime, end: datetime, *, limit: int = 1000) -> list[Event]:
        query = (
            select(events)
            .where(events.c.at >= start, events.c.at < end)
            .order_by(events.c.at, events.c.id)
            .limit(limit)
        )
        rows = await self.db.read(lambda conn: conn.execute(query).mappings().all())
        return [_event(row) for row in rows]

    async def forget_before(self, cutoff: datetime) -> int:
        """Drop events older than ``cutoff`` (the retention); returns how many."""
        statement = delete(events).where(events.c.at < cutoff)
        result = await self.db.write(lambda conn: conn.execute(statement))
        return int(result.rowcount)
