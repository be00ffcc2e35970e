"""The operators' reads (store.queries) and the requeue of notifications, on SQLite and
PostgreSQL: keyset pages never skip or repeat a row, filters, backlog and overview figures."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta

import pytest

from adapter.model import (
    OPEN_STATES,
    Event,
    Hop,
    OperationState,
    Payment,
    PaymentState,
    ShopNotice,
)
from adapter.store.journal import JournalStore
from adapter.store.operations import OperationStore
from adapter.store.payments import (
    DeliveryAttempt,
    Notification,
    NotificationSelection,
    PaymentStore,
)
from adapter.store.queries import (
    Backlog,
    Cursor,
    OperatorQueries,
    PaymentFilter,
    PaymentLine,
)
from tests.support.models import NOW, SHOP_URLS, a_payment, a_step

NOTICE = ShopNotice("https://s/n", "Len=1&Data=00")
EARLIER = NOW - timedelta(hours=1)


def _payment(number: int, **changes: object) -> Payment:
    details = dataclasses.replace(SHOP_URLS, ref_nr=f"R-{number}")
    values: dict[str, object] = {
        "pay_id": f"{number:032x}",
        "trans_id": f"T-{number}",
        "xid": f"{number:032x}",
        "details": details,
        **changes,
    }
    return a_payment(**values)


def _key(line: PaymentLine) -> tuple[object, str]:
    return (line.created_at, line.pay_id)


async def _all_pages(
    read: OperatorQueries, chosen: PaymentFilter, limit: int
) -> list[list[PaymentLine]]:
    pages, after = [], None
    while True:
        page = await read.payments_page(chosen, after=after, limit=limit)
        pages.append(page.payments)
        if page.next is None:
            return pages
        after = Cursor.decode(page.next.encode())  # through the text form the pages link with


async def test_keyset_pages_show_every_payment_once_newest_first_across_ties(
    store: PaymentStore,
) -> None:
    rng = random.Random(7)
    # Few distinct times, so most pages end inside a run of equal created_at.
    stored = [
        _payment(n, created_at=NOW - timedelta(seconds=rng.choice([0, 1, 2, 5]))) for n in range(61)
    ]
    for payment in stored:
        await store.insert(payment)
    read = OperatorQueries(store.db)
    for limit in (1, 7, 60, 61, 100):
        pages = await _all_pages(read, PaymentFilter(), limit)
        shown = [line for page in pages for line in page]
        assert [line.pay_id for line in shown] == [
            p.pay_id for p in sorted(stored, key=lambda p: (p.created_at, p.pay_id), reverse=True)
        ]
        assert all(len(page) == limit for page in pages[:-1]) and 0 < len(pages[-1]) <= limit


async def test_payments_stored_while_paging_neither_shift_nor_repeat_a_page(
    store: PaymentStore,
) -> None:
    for n in range(10):
        await store.insert(_payment(n, created_at=NOW - timedelta(minutes=n)))
    read = OperatorQueries(store.db)
    first = await read.payments_page(PaymentFilter(), limit=4)
    for n in range(10, 15):  # newer ones arrive meanwhile
        await store.insert(_payment(n, created_at=NOW + timedelta(minutes=n)))
    after, seen = first.next, [line.pay_id for line in first.payments]
    while after is not None:
        page = await read.payments_page(PaymentFilter(), after=after, limit=4)
        seen += [line.pay_id for line in page.payments]
        after = page.next
    assert seen == [f"{n:032x}" for n in range(10)]


async def test_filters_select_by_merchant_state_and_creation_time(store: PaymentStore) -> None:
    states = [PaymentState.SUCCESS, PaymentState.FAILED, PaymentState.PENDING]
    for n in range(12):
        await store.insert(
            _payment(
                n,
                merchant_id="Shop" if n % 2 else "Other",
                state=states[n % 3],
                created_at=NOW - timedelta(hours=n),
            )
        )
    read = OperatorQueries(store.db)

    async def numbers(**chosen: object) -> list[int]:
        page = await read.payments_page(PaymentFilter(**chosen), limit=50)  # type: ignore[arg-type]
        return [int(line.pay_id, 16) for line in page.payments]

    assert await numbers(merchant_id="Shop") == [1, 3, 5, 7, 9, 11]
    assert await numbers(state=PaymentState.FAILED) == [1, 4, 7, 10]
    assert await numbers(merchant_id="Shop", state=PaymentState.SUCCESS) == [3, 9]
    window = {"created_from": NOW - timedelta(hours=5), "created_before": NOW - timedelta(hours=2)}
    assert await numbers(**window) == [3, 4, 5]  # from inclusive, before exclusive
    assert await numbers(merchant_id="Nobody") == []


async def test_search_finds_exactly_a_pay_id_a_trans_id_or_a_ref_nr(store: PaymentStore) -> None:
    for n in (1, 11, 111):
        await store.insert(_payment(n))
    read = OperatorQueries(store.db)

    async def found(text: str) -> list[str]:
        page = await read.payments_page(PaymentFilter(search=text))
        return [line.trans_id for line in page.payments]

    assert await found("T-11") == ["T-11"]
    assert await found("R-111") == ["T-111"]
    assert await found(f"{11:032x}") == ["T-11"]
    assert await found("T-1") == ["T-1"]  # exact: not a prefix of T-11 and T-111
    assert await found("T-") == []


def test_a_cursor_survives_its_text_form_and_garbage_is_no_cursor() -> None:
    cursor = Cursor(NOW + timedelta(microseconds=123457), "f" * 32)
    assert Cursor.decode(cursor.encode()) == cursor
    for garbage in ("", "abc", "12-", "-abc", "1-" + "x" * 40, "1-a b", "1.5-abc"):
        assert Cursor.decode(garbage) is None


async def _notification(store: PaymentStore, number: int, merchant_id: str = "Shop") -> int:
    await store.insert(_payment(number, merchant_id=merchant_id))
    await store.finalize(
        f"{number:032x}",
        PaymentState.SUCCESS,
        now=NOW,
        from_states=OPEN_STATES,
        notice=NOTICE,
    )
    (queued,) = await store.notifications_for(f"{number:032x}")
    return queued.id


async def _attempt(
    store: PaymentStore, notification_id: int, status: int, *, retry: bool = True
) -> None:
    await store.record_attempts(
        [
            DeliveryAttempt(
                notification_id=notification_id,
                at=NOW,
                http_status=status,
                error=None if status < 300 else f"HTTP {status}",
                duration_ms=3,
                delivered=200 <= status < 300,
                next_attempt_at=NOW + timedelta(minutes=1) if retry else None,
            )
        ]
    )


async def test_backlog_lists_failing_and_dead_notifications_with_their_latest_attempt(
    store: PaymentStore,
) -> None:
    untried = await _notification(store, 1)
    failing = await _notification(store, 2)
    await _attempt(store, failing, 500)
    await _attempt(store, failing, 502)
    dead = await _notification(store, 3, merchant_id="Other")
    await _attempt(store, dead, 404, retry=False)
    delivered = await _notification(store, 4)
    await _attempt(store, delivered, 200)
    read = OperatorQueries(store.db)

    async def ids(backlog: Backlog, **only: str) -> list[int]:
        return [line.id for line in await read.notifications(backlog, **only)]  # type: ignore[arg-type]

    assert await ids(Backlog.FAILING) == [failing]
    assert await ids(Backlog.DEAD) == [dead]
    assert await ids(Backlog.FAILED) == [dead, failing]
    assert await ids(Backlog.UNDELIVERED) == [dead, failing, untried]  # newest first
    assert await ids(Backlog.UNDELIVERED, merchant_id="Other") == [dead]
    assert await ids(Backlog.UNDELIVERED, pay_id=f"{1:032x}") == [untried]
    (line,) = await read.notifications(Backlog.FAILING)
    assert (line.merchant_id, line.trans_id, line.attempts) == ("Shop", "T-2", 2)
    assert line.last_attempt is not None and line.last_attempt.http_status == 502
    assert [a.http_status for a in (await read.attempts([failing]))[failing]] == [500, 502]
    page = await read.notifications(Backlog.UNDELIVERED, limit=2)
    assert [n.id for n in await read.notifications(Backlog.UNDELIVERED, before_id=page[-1].id)] == [
        untried
    ]
    backlog = await read.notify_backlog(now=NOW)
    assert (backlog.pending, backlog.due, backlog.failing, backlog.dead) == (2, 1, 1, 1)
    assert backlog.oldest_pending_at == NOW


def _requeue_event(notification: Notification, merchant_id: str) -> Event:
    return Event(
        NOW,
        Hop.OPERATOR,
        "resend notify",
        pay_id=notification.pay_id,
        merchant_id=merchant_id,
        actor="alice",
    )


async def test_requeue_makes_undelivered_notifications_due_now_with_an_event_each(
    store: PaymentStore,
) -> None:
    dead = await _notification(store, 1)
    await _attempt(store, dead, 500, retry=False)
    failing = await _notification(store, 2)
    await _attempt(store, failing, 500)
    delivered = await _notification(store, 3)
    await _attempt(store, delivered, 200)
    later = NOW + timedelta(seconds=5)

    requeued = await store.requeue_notifications(
        NotificationSelection(merchant_id="Shop"),
        now=later,
        hold_for=None,
        event_for=_requeue_event,
    )

    assert [(n.id, n.status, n.attempts) for n in requeued] == [
        (dead, "pending", 1),
        (failing, "pending", 1),
    ]
    due = await store.claim_due_notifications(now=later, lease=timedelta(seconds=9))
    assert sorted(n.id for n in due) == [dead, failing]
    timeline = await JournalStore(store.db).timeline(f"{1:032x}")
    assert [(e.hop, e.name, e.actor, e.merchant_id) for e in timeline] == [
        (Hop.OPERATOR, "resend notify", "alice", "Shop")
    ]


async def test_requeue_of_dead_only_leaves_failing_ones_and_skips_one_being_delivered(
    store: PaymentStore,
) -> None:
    dead = await _notification(store, 1)
    await _attempt(store, dead, 500, retry=False)
    failing = await _notification(store, 2)
    await _attempt(store, failing, 500)
    busy = await _notification(store, 3)
    await _attempt(store, busy, 500, retry=False)
    await store.requeue_notifications(
        NotificationSelection(ids=(busy,)),
        now=NOW,
        hold_for=timedelta(minutes=1),
        event_for=_requeue_event,
    )  # a worker holds it now

    requeued = await store.requeue_notifications(
        NotificationSelection(dead_only=True), now=NOW, hold_for=None, event_for=_requeue_event
    )

    assert [n.id for n in requeued] == [dead]
    with pytest.raises(ValueError, match="select"):
        await store.requeue_notifications(
            NotificationSelection(), now=NOW, hold_for=None, event_for=_requeue_event
        )


async def test_requeue_with_hold_keeps_other_outboxes_off_the_rows(store: PaymentStore) -> None:
    dead = await _notification(store, 1)
    await _attempt(store, dead, 500, retry=False)
    await store.requeue_notifications(
        NotificationSelection(pay_id=f"{1:032x}"),
        now=NOW,
        hold_for=timedelta(seconds=60),
        event_for=_requeue_event,
    )
    other = PaymentStore(store.db)  # another process's outbox
    assert await other.claim_due_notifications(now=NOW, lease=timedelta(seconds=9)) == []
    later = NOW + timedelta(seconds=61)  # the holder died: the lease runs out
    assert [
        n.id for n in await other.claim_due_notifications(now=later, lease=timedelta(seconds=9))
    ] == [dead]


async def test_activity_counts_payments_per_slice_by_outcome_and_money_per_currency(
    store: PaymentStore,
) -> None:
    since = NOW - timedelta(hours=3)
    layout = [
        (0, PaymentState.SUCCESS, "EUR", 1000),
        (0, PaymentState.FAILED, "EUR", 500),
        (1, PaymentState.SUCCESS, "EUR", 250),
        (1, PaymentState.SUCCESS, "USD", 700),
        (1, PaymentState.CANCELLED, "EUR", 300),
        (2, PaymentState.PENDING, "EUR", 100),
    ]
    for n, (hour, state, currency, amount) in enumerate(layout):
        created = since + timedelta(hours=hour, minutes=30)
        await store.insert(
            _payment(n, state=state, currency=currency, amount=amount, created_at=created)
        )
    await store.insert(_payment(99, created_at=since - timedelta(seconds=1)))  # before
    credit = a_step(pay_id=f"{0:032x}", amount=400, created_at=NOW, updated_at=NOW)
    operations = OperationStore(store.db)
    await operations.reserve_credit(credit, paid=1000)
    await operations.finish(credit.xid, OperationState.SUCCESS, now=NOW, result_code="SUCCESS")

    buckets, volumes = await OperatorQueries(store.db).activity(
        since=since, until=NOW + timedelta(seconds=1), slice_seconds=3600
    )

    assert [(b.created, b.succeeded, b.failed, b.open) for b in buckets[:3]] == [
        (2, 1, 1, 0),
        (3, 2, 1, 0),
        (1, 0, 0, 1),
    ]
    assert [b.start for b in buckets[:3]] == [since + timedelta(hours=h) for h in range(3)]
    assert [b.success_rate for b in buckets[:3]] == [0.5, 2 / 3, None]
    assert [(v.currency, v.payments, v.paid, v.credited) for v in volumes] == [
        ("EUR", 5, 1250, 400),
        ("USD", 1, 700, 0),
    ]


async def test_open_payments_are_counted_by_age(store: PaymentStore) -> None:
    ages = [timedelta(seconds=10), timedelta(minutes=3), timedelta(minutes=4), timedelta(days=3)]
    for n, age in enumerate(ages):
        await store.insert(_payment(n, state=PaymentState.UNKNOWN, created_at=NOW - age))
    await store.insert(_payment(9, state=PaymentState.SUCCESS, created_at=NOW))
    bands = await OperatorQueries(store.db).open_by_age(now=NOW)
    assert [band.count for band in bands] == [1, 2, 0, 0, 0, 1]
    assert (bands[0].older_than, bands[0].younger_than) == (timedelta(0), timedelta(minutes=1))
    assert bands[-1].younger_than is None


async def test_reconcile_candidates_are_open_payments_and_payments_with_open_steps(
    store: PaymentStore,
) -> None:
    await store.insert(_payment(1, state=PaymentState.PENDING, created_at=NOW))
    await store.insert(
        _payment(2, state=PaymentState.UNKNOWN, merchant_id="Other", created_at=EARLIER)
    )
    await store.insert(_payment(3, state=PaymentState.SUCCESS, created_at=NOW))
    await store.insert(_payment(4, state=PaymentState.SUCCESS, created_at=EARLIER))
    await store.insert(_payment(5, state=PaymentState.NEW))  # its checkout is still running
    open_credit = a_step(pay_id=f"{3:032x}", created_at=NOW, updated_at=NOW)
    await OperationStore(store.db).reserve_credit(open_credit, paid=1000)
    read = OperatorQueries(store.db)

    numbers = [int(p, 16) for p in await read.reconcile_candidates()]
    assert sorted(numbers) == [1, 2, 3]
    shop = [int(p, 16) for p in await read.reconcile_candidates(merchant_id="Shop")]
    assert sorted(shop) == [1, 3]
    recent = await read.reconcile_candidates(since=NOW - timedelta(minutes=1))
    assert sorted(int(p, 16) for p in recent) == [1, 3]
