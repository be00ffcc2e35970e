from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Awaitable
from datetime import timedelta

import pytest
from sqlalchemy import update

from adapter.errors import DuplicateTransID
from adapter.model import OPEN_STATES, Event, Hop, Payment, PaymentState
from adapter.store.journal import JournalStore
from adapter.store.payments import DueNotification, Handover, PaymentStore, Settling
from adapter.store.tables import payments
from tests.support.models import NOTICE, NOW, a_failed_attempt, a_payment


def _payment(pay_id: str = "a" * 32, trans_id: str = "T-1") -> Payment:
    return a_payment(pay_id=pay_id, trans_id=trans_id, amount=1250)


async def test_payment_round_trips_with_aware_utc_times(store: PaymentStore) -> None:
    await store.insert(_payment())
    stored = await store.get("a" * 32)
    assert stored == _payment()
    assert stored is not None and stored.created_at.tzinfo is not None


async def test_same_trans_id_twice_for_a_merchant_is_refused(store: PaymentStore) -> None:
    await store.insert(_payment())
    with pytest.raises(DuplicateTransID):
        await store.insert(_payment(pay_id="c" * 32))
    assert await store.count() == 1


async def test_concurrent_finalize_applies_one_state_and_one_notification(
    store: PaymentStore,
) -> None:
    await store.insert(_payment())
    outcomes = await asyncio.gather(
        *(
            store.finalize(
                "a" * 32,
                state,
                now=NOW,
                from_states=OPEN_STATES,
                notice=NOTICE,
                result_code=code,
            )
            for state, code in [(PaymentState.SUCCESS, "SUCCESS"), (PaymentState.FAILED, "X")] * 5
        )
    )
    (applied,) = [outcome for outcome in outcomes if outcome is not None]
    notifications = await store.notifications_for("a" * 32)
    assert len(notifications) == 1
    stored = await store.get("a" * 32)
    assert stored == applied and stored.state is notifications[0].final_state


async def test_a_claimed_notification_is_leased_to_one_worker(store: PaymentStore) -> None:
    await store.insert(_payment())
    await store.finalize(
        "a" * 32, PaymentState.SUCCESS, now=NOW, from_states=OPEN_STATES, notice=NOTICE
    )
    first = await store.claim_due_notifications(now=NOW, lease=timedelta(seconds=60))
    second = await store.claim_due_notifications(now=NOW, lease=timedelta(seconds=60))
    assert [n.pay_id for n in first] == ["a" * 32]
    assert second == []
    later = await store.claim_due_notifications(
        now=NOW + timedelta(seconds=61), lease=timedelta(seconds=60)
    )
    assert len(later) == 1


async def test_each_claimed_notification_names_its_own_payments_merchant(
    store: PaymentStore,
) -> None:
    merchants = {"a" * 32: "Shop", "b" * 32: "Other", "c" * 32: "Third"}
    for n, (pay_id, merchant_id) in enumerate(merchants.items()):
        payment = a_payment(
            pay_id=pay_id, merchant_id=merchant_id, trans_id=f"T-{n}", xid=f"{n}" * 32
        )
        await store.insert(payment)
        await store.finalize(
            pay_id, PaymentState.SUCCESS, now=NOW, from_states=OPEN_STATES, notice=NOTICE
        )
    claimed = await store.claim_due_notifications(now=NOW, lease=timedelta(seconds=60))
    assert {n.pay_id: n.merchant_id for n in claimed} == merchants


async def test_failed_attempt_is_recorded_and_rescheduled(store: PaymentStore) -> None:
    await store.insert(_payment())
    await store.finalize(
        "a" * 32, PaymentState.FAILED, now=NOW, from_states=OPEN_STATES, notice=NOTICE
    )
    (claimed,) = await store.claim_due_notifications(now=NOW, lease=timedelta(seconds=60))
    await store.record_attempts(
        [a_failed_attempt(claimed.id, NOW, 503, NOW + timedelta(seconds=30), duration_ms=3)]
    )
    (notification,) = await store.notifications_for("a" * 32)
    assert (notification.status, notification.attempts) == ("pending", 1)
    assert await store.claim_due_notifications(now=NOW, lease=timedelta(seconds=60)) == []
    attempts = await store.attempts_for(claimed.id)
    assert [a["http_status"] for a in attempts] == [503]


async def test_open_payments_fall_due_after_the_first_check_delay_and_a_claim_holds_them(
    store: PaymentStore,
) -> None:
    payments = PaymentStore(store.db, first_check_after=timedelta(minutes=1))
    await payments.insert(_payment())
    await payments.insert(_payment(pay_id="b" * 32, trans_id="T-2"))
    await payments.mark_open("a" * 32, PaymentState.PENDING, now=NOW, from_states=OPEN_STATES)
    await payments.mark_open("b" * 32, PaymentState.PENDING, now=NOW, from_states=OPEN_STATES)
    await payments.finalize(
        "b" * 32, PaymentState.SUCCESS, now=NOW, from_states=OPEN_STATES, notice=None
    )
    hold = timedelta(seconds=30)
    early = NOW + timedelta(seconds=59)
    assert await payments.claim_due(now=early, hold_for=hold, limit=10) == []
    due_at = NOW + timedelta(minutes=1)
    (claimed,) = await payments.claim_due(now=due_at, hold_for=hold, limit=10)
    assert (claimed.payment.pay_id, claimed.checks) == ("a" * 32, 0)
    assert await payments.claim_due(now=due_at, hold_for=hold, limit=10) == []
    await payments.checked("a" * 32, next_check_at=due_at + timedelta(minutes=2))
    (again,) = await payments.claim_due(now=due_at + timedelta(minutes=2), hold_for=hold, limit=9)
    assert again.checks == 1
    stored = await payments.get("a" * 32)
    assert stored is not None and stored.updated_at == NOW  # looking at it is no change


async def test_a_new_payment_is_not_claimed_by_the_reconciler(store: PaymentStore) -> None:
    await store.insert(_payment())
    assert await store.claim_due(now=NOW + timedelta(days=1), hold_for=timedelta(1), limit=5) == []


async def test_two_workers_competing_for_due_notifications_deliver_each_once(
    store: PaymentStore,
) -> None:
    first_worker = PaymentStore(store.db, owner="worker-1")
    second_worker = PaymentStore(store.db, owner="worker-2")
    for n in range(12):
        pay_id = f"{n:032x}"
        await store.insert(_payment(pay_id=pay_id, trans_id=f"T-{n}"))
        await store.finalize(
            pay_id, PaymentState.SUCCESS, now=NOW, from_states=OPEN_STATES, notice=NOTICE
        )
    lease = timedelta(seconds=60)
    claims = await asyncio.gather(
        *(
            worker.claim_due_notifications(now=NOW, lease=lease, limit=5)
            for worker in [first_worker, second_worker] * 3
        )
    )
    claimed = [n.pay_id for batch in claims for n in batch]
    assert sorted(claimed) == sorted(f"{n:032x}" for n in range(12))


_SETTLES_PAID = Settling(otherwise=PaymentState.SUCCESS, if_cancel_requested=PaymentState.CANCELLED)


def _settled_by(store: PaymentStore, price: tuple[int, str] | None) -> Awaitable[Payment | None]:
    """A notify's settlement of payment ``a…a`` as paid, with its notification and one event."""
    return store.settle(
        "a" * 32,
        _SETTLES_PAID,
        price=price,
        now=NOW,
        from_states=OPEN_STATES,
        complete=lambda paid: (
            NOTICE,
            [Event(NOW, Hop.PAYMENT, paid.state.value, "SUCCESS", pay_id=paid.pay_id)],
        ),
        result_code="SUCCESS",
        alipay_payment_id="ALIPAY-1",
    )


@pytest.mark.parametrize("price", [(1250, "EUR"), None])
async def test_a_settlement_of_the_price_stores_the_state_its_notification_and_events(
    store: PaymentStore, price: tuple[int, str] | None
) -> None:
    await store.insert(_payment(), events=[])
    settled = await _settled_by(store, price)
    assert settled == await store.get("a" * 32)
    assert settled is not None and settled.state is PaymentState.SUCCESS
    assert (settled.result_code, settled.alipay_payment_id) == ("SUCCESS", "ALIPAY-1")
    (notification,) = await store.notifications_for("a" * 32)
    assert notification.final_state is PaymentState.SUCCESS
    timeline = await JournalStore(store.db).timeline("a" * 32)
    assert [event.name for event in timeline] == ["SUCCESS"]


@pytest.mark.parametrize("price", [(1251, "EUR"), (1250, "USD")])
async def test_a_settlement_of_another_price_writes_nothing(
    store: PaymentStore, price: tuple[int, str]
) -> None:
    await store.insert(_payment())
    assert await _settled_by(store, price) is None
    assert await store.get("a" * 32) == _payment()
    assert await store.notifications_for("a" * 32) == []
    assert await JournalStore(store.db).timeline("a" * 32) == []


async def test_a_settlement_picks_the_cancelled_state_once_a_cancel_was_requested(
    store: PaymentStore,
) -> None:
    await store.insert(_payment())
    await store.db.write(
        lambda conn: conn.execute(update(payments).values(cancel_requested=True)).rowcount
    )
    settled = await _settled_by(store, (1250, "EUR"))
    assert settled is not None and settled.state is PaymentState.CANCELLED
    (notification,) = await store.notifications_for("a" * 32)
    assert notification.final_state is PaymentState.CANCELLED


async def test_a_settlement_of_a_final_or_unknown_payment_writes_nothing(
    store: PaymentStore,
) -> None:
    assert await _settled_by(store, None) is None
    await store.insert(dataclasses.replace(_payment(), state=PaymentState.FAILED))
    assert await _settled_by(store, None) is None
    assert await store.notifications_for("a" * 32) == []


async def test_a_settlement_under_a_handover_leases_its_notification_and_hands_it_over(
    store: PaymentStore,
) -> None:
    """With this process's outbox running, the row is written leased to it and handed over
    once committed: no claim finds it, and the outbox has all a delivery needs."""
    handed: list[DueNotification] = []
    store.handover = Handover(timedelta(seconds=60), handed.extend)
    await store.insert(_payment())
    settled = await _settled_by(store, (1250, "EUR"))
    assert settled is not None
    (stored,) = await store.notifications_for("a" * 32)
    assert handed == [
        DueNotification(
            id=stored.id,
            pay_id="a" * 32,
            final_state=PaymentState.SUCCESS,
            url=NOTICE.url,
            status="pending",
            attempts=0,
            body=NOTICE.body,
            merchant_id=settled.merchant_id,
        )
    ]
    assert await store.claim_due_notifications(now=NOW, lease=timedelta(seconds=60)) == []
    later = NOW + timedelta(seconds=61)  # the lease ran out: the process is gone
    (claimed,) = await store.claim_due_notifications(now=later, lease=timedelta(seconds=60))
    assert claimed.id == stored.id


async def test_a_finalize_under_a_handover_hands_over_only_what_it_committed(
    store: PaymentStore,
) -> None:
    handed: list[DueNotification] = []
    store.handover = Handover(timedelta(seconds=60), handed.extend)
    await store.insert(_payment())
    finalize = functools.partial(
        store.finalize, "a" * 32, now=NOW, from_states=OPEN_STATES, notice=NOTICE
    )
    assert await finalize(PaymentState.SUCCESS) is not None
    assert await finalize(PaymentState.FAILED) is None  # no longer open: nothing written
    assert [(n.pay_id, n.final_state) for n in handed] == [("a" * 32, PaymentState.SUCCESS)]
    await store.insert(_payment(pay_id="b" * 32, trans_id="T-2"))
    unwritable = Event(NOW, Hop.PAYMENT, "SUCCESS", detail={"x": object()})  # type: ignore[dict-item]
    with pytest.raises(TypeError):  # after the row was queued: the transaction rolls back
        await store.finalize(
            "b" * 32,
            PaymentState.SUCCESS,
            now=NOW,
            from_states=OPEN_STATES,
            notice=NOTICE,
            events=[unwritable],
        )
    assert await store.notifications_for("b" * 32) == []
    assert len(handed) == 1
