"""ReqId claims and stored answers: one finished answer per (merchant, endpoint, ReqId).

A request with a ReqId first claims its key. The claim is a row in ``running`` state with a
lease, so a process that dies mid-request does not block the ReqId forever; the first finished
answer replaces it (``done``) and is replayed byte for byte from then on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from adapter.store.db import Database
from adapter.store.leases import Leases, new_owner
from adapter.store.statements import Statement, inserting
from adapter.store.tables import request_replays


@dataclass(frozen=True)
class ReplayKey:
    merchant_id: str
    endpoint: str
    req_id: str

    def where(self) -> ColumnElement[bool]:
        t = request_replays.c
        return and_(
            t.merchant_id == self.merchant_id,
            t.endpoint == self.endpoint,
            t.req_id == self.req_id,
        )


@dataclass(frozen=True)
class Claimed:
    """This request owns the ReqId until it stores or releases its answer."""


@dataclass(frozen=True)
class Finished:
    fingerprint: str
    body: str


@dataclass(frozen=True)
class Busy:
    """Another request with this ReqId is still running."""

    fingerprint: str


Claim = Claimed | Finished | Busy


_LEASES = Leases(request_replays)
_CLAIM = inserting(
    request_replays,
    (
        "merchant_id",
        "endpoint",
        "req_id",
        "fingerprint",
        "lease_owner",
        "lease_until",
        "created_at",
    ),
    state="running",
)
_FINISH = Statement(
    update(request_replays)
    .where(
        request_replays.c.merchant_id == bindparam("key_merchant_id"),
        request_replays.c.endpoint == bindparam("key_endpoint"),
        request_replays.c.req_id == bindparam("key_req_id"),
        request_replays.c.state == "running",
    )
    .values(state="done", body=bindparam("answer"), lease_owner=None, lease_until=None)
)


class ReplayStore:
    def __init__(self, db: Database, *, owner: str | None = None) -> None:
        self.db = db
        self.owner = owner or new_owner()

    async def claim(
        self, key: ReplayKey, fingerprint: str, *, now: datetime, lease: timedelta
    ) -> Claim:
        values = {
            "merchant_id": key.merchant_id,
            "endpoint": key.endpoint,
            "req_id": key.req_id,
            "fingerprint": fingerprint,
            "lease_owner": self.owner,
            "lease_until": now + lease,
            "created_at": now,
        }
        try:
            await self.db.write(lambda conn: _CLAIM.rowcount(conn, **values))
            return Claimed()
        except IntegrityError:
            pass

        def existing(conn: Connection) -> Claim | None:
            # Take over a claim whose owner died (lease passed), but only for the same request.
            running = and_(
                key.where(),
                request_replays.c.state == "running",
                request_replays.c.fingerprint == fingerprint,
            )
            if _LEASES.take(conn, running, owner=self.owner, now=now, ttl=lease):
                return Claimed()
            row = (
                conn.execute(
                    select(
                        request_replays.c.state,
                        request_replays.c.fingerprint,
                        request_replays.c.body,
                    ).where(key.where())
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            if row["state"] == "done":
                return Finished(row["fingerprint"], row["body"])
            return Busy(row["fingerprint"])

        found = await self.db.write(existing)
        if found is None:  # released between our insert and this read: try again
            return await self.claim(key, fingerprint, now=now, lease=lease)
        return found

    async def finish(self, key: ReplayKey, body: str) -> None:
        await self.db.write(
            lambda conn: _FINISH.rowcount(
                conn,
                key_merchant_id=key.merchant_id,
                key_endpoint=key.endpoint,
                key_req_id=key.req_id,
                answer=body,
            )
        )

    async def release(self, key: ReplayKey) -> None:
        """Give the ReqId back: the answer was not final, so a repeat must run again."""
        statement = delete(request_replays).where(
            key.where(), request_replays.c.state == "running", _LEASES.held_by(self.owner)
        )
        await self.db.write(lambda conn: conn.execute(statement))

    async def forget_finished_before(self, cutoff: datetime) -> int:
        """Drop stored answers older than ``cutoff``; returns how many.

        Safe for money: a later repeat of a credit or reversal still finds its step by ReqId and
        answers its outcome without a new upstream call; only the byte-for-byte copy is gone.
        """
        statement = delete(request_replays).where(
            request_replays.c.state == "done", request_replays.c.created_at < cutoff
        )
        result = await self.db.write(lambda conn: conn.execute(statement))
        return int(result.rowcount)
