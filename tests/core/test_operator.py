"""Operator actions (core.operator) on a real SQLite store, with a signed fake Alipay+ and a
loopback shop: each is journalled with the operator's name, and does what it says once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from adapter.alipayplus.signing import generate_private_key
from adapter.config import parse_settings
from adapter.core.context import Context
from adapter.core.operator import (
    Actor,
    Reconciled,
    Resent,
    overview,
    payment_file,
    reconcile_many,
    reconcile_payment,
    requeue_notifications,
    resend_notifications,
)
from adapter.core.outbox import OutboxWorker
from adapter.mapping import load_mapping
from adapter.model import OPEN_STATES, Event, Hop, OperationState, PaymentState, ShopNotice
from adapter.runtime import open_context
from adapter.store.payments import NotificationSelection
from tests.alipayplus.fake import CLIENT_ID, Answer, FakeAlipayPlus, result_body
from tests.support.config import config_data
from tests.support.models import a_failed_attempt, a_payment, a_step
from tests.support.servers import serve
from tests.support.shop import Received, create_test_shop

ALICE = Actor("alice", "cli")


@pytest.fixture
def shop() -> Iterator[tuple[str, Received]]:
    received = Received()
    with serve(create_test_shop(received)) as url:
        yield url, received


@pytest.fixture
def alipay() -> FakeAlipayPlus:
    return FakeAlipayPlus(acqp_public_key=ACQP.public_key(), alipay_key=ALIPAY)


ACQP, ALIPAY = generate_private_key(), generate_private_key()


@pytest.fixture
async def ctx(
    tmp_path: Path, shop: tuple[str, Received], alipay: FakeAlipayPlus
) -> AsyncIterator[Context]:
    data = config_data(
        tmp_path,
        allowed_hosts=[shop[0].removeprefix("http://")],
        allow_http=True,
        allow_private_targets=True,
    )
    data["adapter"]["database_url"] = f"sqlite+aiosqlite:///{tmp_path}/adapter.sqlite3"
    data["adapter"]["notify_retry_seconds"] = [60]
    data["alipayplus"].update(
        client_id=CLIENT_ID, private_key=ACQP, alipay_public_key=ALIPAY.public_key()
    )
    settings = parse_settings(data, base_dir=tmp_path, environ={"TOKEN": "t" * 32, "HMAC_NEW": "k"})
    async with open_context(settings, load_mapping(), alipay_transport=alipay.transport()) as ctx:
        yield ctx


async def _paid_with_notification(ctx: Context, url: str, *, status: str = "dead") -> int:
    """A paid payment whose URLNotify is ``status`` after its one scheduled retry."""
    now = ctx.clock()
    payment = a_payment(created_at=now, updated_at=now)
    await ctx.payments.insert(payment)
    notice = ShopNotice(f"{url}/notify", "Len=1&Data=00")
    await ctx.payments.finalize(
        payment.pay_id, PaymentState.SUCCESS, now=now, from_states=OPEN_STATES, notice=notice
    )
    (notification,) = await ctx.payments.notifications_for(payment.pay_id)
    await ctx.payments.record_attempts(
        [
            a_failed_attempt(
                notification.id, now, 500, None if status == "dead" else now + timedelta(hours=1)
            )
        ]
    )
    return notification.id


async def _operator_events(ctx: Context, pay_id: str) -> list[Event]:
    await ctx.journal.flush()
    return [e for e in await ctx.journal.store.timeline(pay_id) if e.hop is Hop.OPERATOR]


async def test_a_resent_dead_notification_gets_one_attempt_now_journalled_with_the_name(
    ctx: Context, shop: tuple[str, Received]
) -> None:
    notification_id = await _paid_with_notification(ctx, shop[0])
    counted: list[int] = []
    heard: list[Resent] = []
    worker = OutboxWorker(ctx)
    try:
        resent = await resend_notifications(
            ctx,
            NotificationSelection(ids=(notification_id,)),
            ALICE,
            worker,
            on_requeued=counted.append,
            on_resent=heard.append,
        )
    finally:
        await worker.aclose()
    assert counted == [1] and heard == resent
    (only,) = resent
    assert only.delivered and only.notification.attempts == 2
    assert only.attempt is not None and only.attempt.http_status == 200
    assert len(shop[1].notifies) == 1
    (event,) = await _operator_events(ctx, only.notification.pay_id)
    assert (event.name, event.actor, event.outcome) == ("resend notify", "alice", "SUCCESS")
    assert event.detail == {"via": "cli", "notification": notification_id, "attempts": 1}


async def test_a_resent_notification_the_shop_still_refuses_is_dead_again_after_one_attempt(
    ctx: Context, shop: tuple[str, Received]
) -> None:
    shop[1].notify_status = 503
    notification_id = await _paid_with_notification(ctx, shop[0])
    worker = OutboxWorker(ctx)
    try:
        (resent,) = await resend_notifications(
            ctx, NotificationSelection(dead_only=True), ALICE, worker
        )
    finally:
        await worker.aclose()
    assert (resent.notification.id, resent.notification.status) == (notification_id, "dead")
    assert resent.notification.attempts == 2 and not resent.delivered
    assert resent.attempt is not None and resent.attempt.http_status == 503


async def test_requeue_for_the_outbox_wakes_it_and_leaves_the_rows_free_to_claim(
    ctx: Context, shop: tuple[str, Received]
) -> None:
    failing = await _paid_with_notification(ctx, shop[0], status="pending")
    ctx.outbox_wakeup.clear()
    requeued = await requeue_notifications(ctx, NotificationSelection(merchant_id="Shop"), ALICE)
    assert [n.id for n in requeued] == [failing]
    assert ctx.outbox_wakeup.is_set()
    claimed = await ctx.payments.claim_due_notifications(
        now=ctx.clock(), lease=timedelta(seconds=5)
    )
    assert [n.id for n in claimed] == [failing]


def _inquiry_answer(pay_id: str, status: str = "S") -> Answer:
    return Answer(
        body=result_body(
            "S",
            "SUCCESS",
            paymentRequestId=pay_id,
            paymentId="A-1",
            paymentResult={"resultStatus": status, "resultCode": "SUCCESS", "resultMessage": "ok"},
            paymentAmount={"value": "1000", "currency": "EUR"},
        )
    )


async def test_reconcile_now_settles_an_open_payment_and_journals_who_did_it_first(
    ctx: Context, alipay: FakeAlipayPlus
) -> None:
    now = ctx.clock()
    payment = a_payment(state=PaymentState.PENDING, created_at=now, updated_at=now)
    await ctx.payments.insert(payment)
    alipay.answer = _inquiry_answer(payment.pay_id)

    result = await reconcile_payment(ctx, payment.pay_id, ALICE)

    assert result == Reconciled(payment.pay_id, PaymentState.PENDING, PaymentState.SUCCESS)
    assert result.settled and result.outcome == "SUCCESS"
    await ctx.journal.flush()
    hops = [(e.hop, e.name, e.actor) for e in await ctx.journal.store.timeline(payment.pay_id)]
    assert hops == [
        (Hop.OPERATOR, "reconcile now", "alice"),
        (Hop.ALIPAY_CALL, "inquiryPayment", "adapter"),
        (Hop.PAYMENT, "SUCCESS", "adapter"),
    ]
    (event,) = await _operator_events(ctx, payment.pay_id)
    assert event.outcome == "SUCCESS" and event.detail == {"via": "cli", "was": "PENDING"}


async def test_reconcile_now_resends_the_open_steps_of_a_paid_payment(
    ctx: Context, alipay: FakeAlipayPlus
) -> None:
    now = ctx.clock()
    payment = a_payment(state=PaymentState.SUCCESS, created_at=now, updated_at=now)
    await ctx.payments.insert(payment)
    credit = a_step(amount=400, created_at=now, updated_at=now)
    await ctx.operations.reserve_credit(credit, paid=1000)
    await ctx.operations.mark_unknown(credit.xid, now=now)
    alipay.answer = Answer(
        body=result_body("S", "SUCCESS", refundId="R-1", refundRequestId=credit.xid)
    )

    result = await reconcile_payment(ctx, payment.pay_id, ALICE)

    assert (result.after, result.open_steps, result.settled) == (PaymentState.SUCCESS, 0, True)
    settled = await ctx.operations.get(credit.xid)
    assert settled is not None and settled.state is OperationState.SUCCESS
    assert [r.url.path.rsplit("/", 1)[1] for r in alipay.requests] == ["refund"]


async def test_reconcile_now_asks_nothing_while_other_work_holds_the_payment(
    ctx: Context, alipay: FakeAlipayPlus
) -> None:
    now = ctx.clock()
    payment = a_payment(state=PaymentState.PENDING, created_at=now, updated_at=now)
    await ctx.payments.insert(payment)
    ctx.settings = ctx.settings.model_copy(update={"operation_budget_seconds": 0.05})
    async with ctx.locks.hold(payment.pay_id, wait_seconds=1):
        result = await reconcile_payment(ctx, payment.pay_id, ALICE)
    assert (result.busy, result.outcome, result.after) == (True, "busy", PaymentState.PENDING)
    assert alipay.requests == []
    (event,) = await _operator_events(ctx, payment.pay_id)
    assert event.outcome == "busy"


async def test_reconcile_many_reports_every_payment_as_it_finishes(
    ctx: Context, alipay: FakeAlipayPlus
) -> None:
    now = ctx.clock()
    pay_ids = [f"{n:032x}" for n in range(1, 4)]
    for number, pay_id in enumerate(pay_ids):
        await ctx.payments.insert(
            a_payment(
                pay_id=pay_id,
                trans_id=f"T-{number}",
                state=PaymentState.UNKNOWN,
                created_at=now,
                updated_at=now,
            )
        )
    alipay.answer = Answer(body=result_body("F", "ORDER_NOT_EXIST"))  # nothing definite yet
    heard: list[str] = []

    results = await reconcile_many(
        ctx, [*pay_ids, "f" * 32], ALICE, on_reconciled=lambda r: heard.append(r.pay_id)
    )

    assert sorted(heard) == sorted([*pay_ids, "f" * 32])
    assert [r.outcome for r in results] == ["UNKNOWN, still open"] * 3 + ["not found"]
    assert len(alipay.requests) == 3


async def test_the_payment_file_has_amounts_steps_notifications_with_attempts_and_timeline(
    ctx: Context, shop: tuple[str, Received]
) -> None:
    notification_id = await _paid_with_notification(ctx, shop[0])
    pay_id = a_payment().pay_id
    credit = a_step(amount=300)
    await ctx.operations.reserve_credit(credit, paid=1000)
    await ctx.operations.finish(
        credit.xid, OperationState.SUCCESS, now=ctx.clock(), result_code="SUCCESS"
    )
    found = await payment_file(ctx, pay_id)
    assert found is not None
    assert (found.amounts.amount_cap, found.amounts.amount_cred) == (1000, 300)
    assert [s.xid for s in found.steps] == [credit.xid]
    (notice,) = found.notifications
    assert notice.notification.id == notification_id
    assert [a.http_status for a in notice.attempts] == [500]
    assert await payment_file(ctx, "0" * 32) is None


async def test_the_overview_gathers_activity_backlog_ages_and_attention(
    ctx: Context, shop: tuple[str, Received]
) -> None:
    await _paid_with_notification(ctx, shop[0])
    seen = await overview(ctx, window=timedelta(hours=24), slices=24)
    assert len(seen.buckets) == 24 and sum(b.succeeded for b in seen.buckets) == 1
    assert seen.backlog.dead == 1 and [n.pay_id for n in seen.attention.dead] == [
        a_payment().pay_id
    ]
    assert [v.currency for v in seen.volumes] == ["EUR"]
