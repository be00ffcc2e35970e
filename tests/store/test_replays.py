"""ReqId claims: one owner per (merchant, endpoint, ReqId), stored answers, dead owners."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from adapter.store.payments import PaymentStore
from adapter.store.replays import Busy, Claimed, Finished, ReplayKey, ReplayStore

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
KEY = ReplayKey("Shop", "credit", "r-1")


async def test_the_first_claim_owns_the_req_id_and_others_see_it_busy(store: PaymentStore) -> None:
    replays = ReplayStore(store.db)
    claims = await asyncio.gather(
        *(replays.claim(KEY, "fp", now=NOW, lease=LEASE) for _ in range(10))
    )
    assert sum(isinstance(c, Claimed) for c in claims) == 1
    assert [c for c in claims if not isinstance(c, Claimed)] == [Busy("fp")] * 9


async def test_a_finished_answer_is_returned_to_every_later_claim(store: PaymentStore) -> None:
    replays = ReplayStore(store.db)
    assert await replays.claim(KEY, "fp", now=NOW, lease=LEASE) == Claimed()
    await replays.finish(KEY, "Len=3&Data=ABC")
    later = NOW + timedelta(days=1)
    assert await replays.claim(KEY, "other", now=later, lease=LEASE) == Finished(
        "fp", "Len=3&Data=ABC"
    )


async def test_a_released_req_id_can_be_claimed_again(store: PaymentStore) -> None:
    replays = ReplayStore(store.db)
    await replays.claim(KEY, "fp", now=NOW, lease=LEASE)
    await replays.release(KEY)
    assert await replays.claim(KEY, "fp", now=NOW, lease=LEASE) == Claimed()


async def test_a_dead_owners_claim_is_taken_over_after_its_lease_by_the_same_request(
    store: PaymentStore,
) -> None:
    replays = ReplayStore(store.db)
    await replays.claim(KEY, "fp", now=NOW, lease=LEASE)
    after = NOW + LEASE + timedelta(seconds=1)
    assert await replays.claim(KEY, "changed", now=after, lease=LEASE) == Busy("fp")
    assert await replays.claim(KEY, "fp", now=after, lease=LEASE) == Claimed()


async def test_keys_differ_by_merchant_endpoint_and_req_id(store: PaymentStore) -> None:
    replays = ReplayStore(store.db)
    keys = [
        KEY,
        ReplayKey("Other", "credit", "r-1"),
        ReplayKey("Shop", "reverse", "r-1"),
        ReplayKey("Shop", "credit", "r-2"),
    ]
    for key in keys:
        assert await replays.claim(key, "fp", now=NOW, lease=LEASE) == Claimed()


async def test_only_finished_answers_older_than_the_cutoff_are_forgotten(
    store: PaymentStore,
) -> None:
    replays = ReplayStore(store.db)
    old, running, recent = (
        KEY,
        ReplayKey("Shop", "credit", "r-2"),
        ReplayKey("Shop", "credit", "r-3"),
    )
    for key in (old, running):
        await replays.claim(key, "fp", now=NOW, lease=LEASE)
    await replays.finish(old, "Len=1&Data=A")
    await replays.claim(recent, "fp", now=NOW + timedelta(days=2), lease=LEASE)
    await replays.finish(recent, "Len=1&Data=B")
    assert await replays.forget_finished_before(NOW + timedelta(days=1)) == 1
    assert await replays.claim(old, "fp", now=NOW, lease=LEASE) == Claimed()
    assert await replays.claim(running, "fp", now=NOW, lease=LEASE) == Busy("fp")
    assert await replays.claim(recent, "fp", now=NOW, lease=LEASE) == Finished("fp", "Len=1&Data=B")
