"""ReqId claims and stored answers: one finished answer per (merchant, endpoint, ReqId).

A request with a ReqId first claims its key. The claim is a row in ``running`` state with a
lease, so a process that dies mid-request does not block the ReqId forever; the first finished
answer replaces it (``done``) and is replayed byte for byte from then on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapter.store.db import transaction
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


class ReplayStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def claim(
        self, key: ReplayKey, fingerprint: str, *, now: datetime, lease: timedelta
    ) -> Claim:
        try:
            async with transaction(self.engine) as conn:
                await conn.execute(
                    insert(request_replays).values(
                        merchant_id=key.merchant_id,
                        endpoint=key.endpoint,
                        req_id=key.req_id,
                        fingerprint=fingerprint,
                        state="running",
                        lease_until=now + lease,
                        created_at=now,
                    )
                )
            return Claimed()
        except IntegrityError:
            pass
        async with transaction(self.engine) as conn:
            # Take over a claim whose owner died (lease passed) but only with the same request.
            taken = await conn.execute(
                update(request_replays)
                .where(
                    key.where(),
                    request_replays.c.state == "running",
                    request_replays.c.fingerprint == fingerprint,
                    request_replays.c.lease_until < now,
                )
                .values(lease_until=now + lease)
            )
            if taken.rowcount == 1:
                return Claimed()
            row = (
                (
                    await conn.execute(
                        select(
                            request_replays.c.state,
                            request_replays.c.fingerprint,
                            request_replays.c.body,
                        ).where(key.where())
                    )
                )
                .mappings()
                .first()
            )
        if row is None:  # released between our insert and this read: try again
            return await self.claim(key, fingerprint, now=now, lease=lease)
        if row["state"] == "done":
            return Finished(row["fingerprint"], row["body"])
        return Busy(row["fingerprint"])

    async def finish(self, key: ReplayKey, body: str) -> None:
        async with transaction(self.engine) as conn:
            await conn.execute(
                update(request_replays)
                .where(key.where(), request_replays.c.state == "running")
                .values(state="done", body=body, lease_until=None)
            )

    async def release(self, key: ReplayKey) -> None:
        """Give the ReqId back: the answer was not final, so a repeat must run again."""
        async with transaction(self.engine) as conn:
            await conn.execute(
                delete(request_replays).where(key.where(), request_replays.c.state == "running")
            )
