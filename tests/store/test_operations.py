"""The money rules of credits and reversals as the database enforces them (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection

from adapter.model import (
    Operation,
    OperationDetails,
    OperationKind,
    OperationState,
    PaymentStanding,
    PaymentState,
)
from adapter.store.db import Database, migrate
from adapter.store.operations import Joined, OperationStore, Refusal, Reserved
from adapter.store.payments import PaymentStore
from tests.support.models import NOTICE, NOW, PAY_ID, a_payment, a_step


async def _payment(store: PaymentStore, state: PaymentState, amount: int = 100) -> None:
    await store.insert(a_payment(amount=amount))
    if state.is_final:
        await store.finalize(PAY_ID, state, now=NOW, from_states=[PaymentState.NEW], notice=None)
    elif state is not PaymentState.NEW:
        await store.mark_open(PAY_ID, state, now=NOW, from_states=[PaymentState.NEW])


def _step(
    kind: OperationKind = OperationKind.CREDIT, amount: int = 10, req_id: str | None = None
) -> Operation:
    return a_step(
        xid=secrets.token_hex(16),
        kind=kind,
        amount=amount,
        details=OperationDetails(ref_nr="r", user_data="u", reason="why"),
        req_id=req_id,
    )


async def test_a_reserved_credit_round_trips(store: PaymentStore) -> None:
    await _payment(store, PaymentState.SUCCESS)
    ops = OperationStore(store.db)
    step = _step()
    assert await ops.reserve_credit(step, paid=100) == Reserved(step)
    assert await ops.get(step.xid) == step
    assert await ops.for_payment(PAY_ID) == [step]


async def test_a_payment_stands_at_its_successful_credits_and_its_newest_finished_step(
    store: PaymentStore,
) -> None:
    await _payment(store, PaymentState.SUCCESS)
    ops = OperationStore(store.db)
    payment = await store.get(PAY_ID)
    assert payment is not None
    fresh = PaymentStanding(
        pay_id=PAY_ID,
        merchant_id=payment.merchant_id,
        trans_id=payment.trans_id,
        xid=payment.xid,
        ref_nr=payment.details.ref_nr,
        amount=100,
        currency=payment.currency,
        state=PaymentState.SUCCESS,
        result_code=payment.result_code,
        credited=0,
        last_step=None,
    )
    assert await ops.standing(PAY_ID) == fresh
    later = NOW + timedelta(seconds=1)
    steps = {
        "paid back": dataclasses.replace(_step(amount=30), xid="1" * 32),
        "refused, newest by xid": dataclasses.replace(
            _step(amount=20), xid="f" * 32, created_at=later
        ),
        "paid back, same time": dataclasses.replace(
            _step(amount=25), xid="e" * 32, created_at=later
        ),
        "still open, newest": dataclasses.replace(
            _step(amount=10), xid="9" * 32, created_at=later + timedelta(seconds=1)
        ),
    }
    for step in steps.values():
        assert isinstance(await ops.reserve_credit(step, paid=100), Reserved)
    for name in ("paid back", "paid back, same time"):
        await ops.finish(steps[name].xid, OperationState.SUCCESS, now=NOW, result_code="SUCCESS")
    await ops.finish(
        steps["refused, newest by xid"].xid, OperationState.FAILED, now=NOW, result_code="FAIL"
    )
    standing = await ops.standing(PAY_ID)
    assert standing == dataclasses.replace(fresh, credited=55, last_step=OperationState.FAILED)
    assert await ops.standing("0" * 32) is None


async def test_credits_count_open_and_successful_steps_but_not_failed_ones(
    store: PaymentStore,
) -> None:
    await _payment(store, PaymentState.SUCCESS)
    ops = OperationStore(store.db)
    done, unknown, failed = _step(amount=40), _step(amount=40), _step(amount=20)
    for step in (done, unknown, failed):
        assert isinstance(await ops.reserve_credit(step, paid=100), Reserved)
    await ops.finish(done.xid, OperationState.SUCCESS, now=NOW, result_code="SUCCESS")
    await ops.mark_unknown(unknown.xid, now=NOW)
    await ops.finish(failed.xid, OperationState.FAILED, now=NOW, result_code="PROCESS_FAIL")
    assert await ops.reserve_credit(_step(amount=21), paid=100) is Refusal.EXCEEDS
    assert isinstance(await ops.reserve_credit(_step(amount=20), paid=100), Reserved)
    assert await ops.reserve_credit(_step(amount=1), paid=100) is Refusal.EXCEEDS


async def test_fifty_concurrent_credit_reservations_take_exactly_the_paid_amount(
    store: PaymentStore,
) -> None:
    """Five connection pools: on PostgreSQL only the database keeps them from over-refunding."""
    await _payment(store, PaymentState.SUCCESS)
    databases = [Database(store.db.url) for _ in range(5)]
    try:
        results = await asyncio.gather(
            *(
                OperationStore(databases[i % 5]).reserve_credit(_step(amount=10), paid=100)
                for i in range(50)
            )
        )
    finally:
        for db in databases:
            await db.dispose()
    assert sum(isinstance(r, Reserved) for r in results) == 10
    assert all(isinstance(r, Reserved) or r is Refusal.EXCEEDS for r in results)
    assert sum(op.amount for op in await OperationStore(store.db).for_payment(PAY_ID)) == 100


async def test_credit_is_refused_unless_the_payment_is_paid(store: PaymentStore) -> None:
    await _payment(store, PaymentState.PENDING)
    ops = OperationStore(store.db)
    assert await ops.reserve_credit(_step(), paid=100) is Refusal.NOT_ALLOWED
    assert await ops.for_payment(PAY_ID) == []


async def test_a_req_id_names_one_step_per_merchant_and_kind(store: PaymentStore) -> None:
    await _payment(store, PaymentState.SUCCESS)
    ops = OperationStore(store.db)
    first = _step(req_id="r-1")
    assert isinstance(await ops.reserve_credit(first, paid=100), Reserved)
    assert await ops.reserve_credit(_step(req_id="r-1"), paid=100) is Refusal.DUPLICATE
    assert await ops.by_req_id("Shop", OperationKind.CREDIT, "r-1") == first
    assert await ops.by_req_id("Shop", OperationKind.REVERSE, "r-1") is None


async def test_a_reversal_marks_the_payment_and_a_second_one_joins_it(
    store: PaymentStore,
) -> None:
    await _payment(store, PaymentState.SUCCESS)
    ops = OperationStore(store.db)
    first = _step(OperationKind.REVERSE, amount=100)
    assert await ops.reserve_reversal(first) == Reserved(first)
    payment = await store.get(PAY_ID)
    assert payment is not None and payment.cancel_requested
    assert await ops.reserve_reversal(_step(OperationKind.REVERSE, amount=100)) == Joined(first)
    # While the cancel may still happen, a credit could return the money twice.
    assert await ops.reserve_credit(_step(), paid=100) is Refusal.NOT_ALLOWED


async def test_a_reversal_after_credits_is_refused(store: PaymentStore) -> None:
    await _payment(store, PaymentState.SUCCESS)
    ops = OperationStore(store.db)
    assert isinstance(await ops.reserve_credit(_step(), paid=100), Reserved)
    reversal = _step(OperationKind.REVERSE, amount=100)
    assert await ops.reserve_reversal(reversal) is Refusal.HAS_CREDITS
    payment = await store.get(PAY_ID)
    assert payment is not None and not payment.cancel_requested


async def test_a_completed_reversal_of_an_open_payment_cancels_it_with_one_notification(
    store: PaymentStore,
) -> None:
    await _payment(store, PaymentState.PENDING)
    ops = OperationStore(store.db)
    reversal = _step(OperationKind.REVERSE, amount=100)
    await ops.reserve_reversal(reversal)
    done = await ops.complete_reversal(reversal, now=NOW, result_code="SUCCESS", notice=NOTICE)
    again = await ops.complete_reversal(reversal, now=NOW, result_code="SUCCESS", notice=NOTICE)
    assert (done, again) == (True, False)
    payment = await store.get(PAY_ID)
    assert payment is not None and payment.state is PaymentState.CANCELLED
    assert [n.final_state for n in await store.notifications_for(PAY_ID)] == [
        PaymentState.CANCELLED
    ]


async def test_a_completed_reversal_of_a_paid_payment_does_not_notify_again(
    store: PaymentStore,
) -> None:
    await _payment(store, PaymentState.SUCCESS)
    ops = OperationStore(store.db)
    reversal = _step(OperationKind.REVERSE, amount=100)
    await ops.reserve_reversal(reversal)
    await ops.complete_reversal(reversal, now=NOW, result_code="SUCCESS", notice=NOTICE)
    payment = await store.get(PAY_ID)
    assert payment is not None and payment.state is PaymentState.CANCELLED
    assert await store.notifications_for(PAY_ID) == []


async def test_only_an_open_reversal_is_switched_to_a_refund(store: PaymentStore) -> None:
    await _payment(store, PaymentState.SUCCESS)
    ops = OperationStore(store.db)
    reversal = _step(OperationKind.REVERSE, amount=100)
    await ops.reserve_reversal(reversal)
    await ops.refund_instead(reversal.xid, now=NOW)
    switched = await ops.get(reversal.xid)
    assert switched is not None and switched.refund_instead
    assert await ops.stranded_reversals() == []
    await ops.finish(reversal.xid, OperationState.FAILED, now=NOW, result_code="PROCESS_FAIL")
    assert [step.xid for step in await ops.stranded_reversals()] == [reversal.xid]
    late = _step(OperationKind.REVERSE, amount=100)
    await ops.reserve_reversal(late)
    await ops.complete_reversal(late, now=NOW, result_code="SUCCESS", notice=None)
    await ops.refund_instead(late.xid, now=NOW)
    done = await ops.get(late.xid)
    assert done is not None and not done.refund_instead


async def test_a_failed_reversal_frees_the_payment_for_credits(store: PaymentStore) -> None:
    await _payment(store, PaymentState.SUCCESS)
    ops = OperationStore(store.db)
    reversal = _step(OperationKind.REVERSE, amount=100)
    await ops.reserve_reversal(reversal)
    assert await ops.fail_reversal(reversal, now=NOW, result_code="CANCEL_WINDOW_EXCEED")
    payment = await store.get(PAY_ID)
    assert payment is not None
    assert (payment.state, payment.cancel_requested) == (PaymentState.SUCCESS, False)
    assert isinstance(await ops.reserve_credit(_step(amount=100), paid=100), Reserved)


async def test_open_steps_fall_due_after_the_first_check_delay_and_a_claim_holds_them(
    store: PaymentStore,
) -> None:
    await _payment(store, PaymentState.SUCCESS)
    ops = OperationStore(store.db, first_check_after=timedelta(minutes=1))
    open_step, done = _step(), _step()
    await ops.reserve_credit(open_step, paid=100)
    await ops.reserve_credit(done, paid=100)
    await ops.finish(done.xid, OperationState.SUCCESS, now=NOW, result_code="SUCCESS")
    hold = timedelta(seconds=30)
    assert await ops.claim_due(now=NOW + timedelta(seconds=59), hold_for=hold, limit=10) == []
    due_at = NOW + timedelta(minutes=1)
    (claimed,) = await ops.claim_due(now=due_at, hold_for=hold, limit=10)
    assert (claimed.operation.xid, claimed.checks) == (open_step.xid, 0)
    # Claimed: out of every other pass until the hold passes or the claimer reschedules it.
    assert await ops.claim_due(now=due_at, hold_for=hold, limit=10) == []
    await ops.checked(open_step.xid, next_check_at=due_at + timedelta(minutes=2))
    assert await ops.claim_due(now=due_at + timedelta(minutes=1), hold_for=hold, limit=10) == []
    (again,) = await ops.claim_due(now=due_at + timedelta(minutes=2), hold_for=hold, limit=10)
    assert again.checks == 1


async def test_concurrent_claims_divide_the_due_steps_between_them(store: PaymentStore) -> None:
    await _payment(store, PaymentState.SUCCESS)
    ops = OperationStore(store.db)
    steps = [_step(amount=1) for _ in range(30)]
    for step in steps:
        await ops.reserve_credit(step, paid=100)
    claims = await asyncio.gather(
        *(ops.claim_due(now=NOW, hold_for=timedelta(seconds=30), limit=4) for _ in range(10))
    )
    claimed = [due.operation.xid for batch in claims for due in batch]
    assert sorted(claimed) == sorted(step.xid for step in steps)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=60),
            st.sampled_from(
                [OperationState.SUCCESS, OperationState.FAILED, OperationState.UNKNOWN]
            ),
        ),
        max_size=12,
    )
)
async def test_any_sequence_of_credits_reserves_exactly_while_room_is_left(
    tmp_path: Path, steps: list[tuple[int, OperationState]]
) -> None:
    """Room = paid - (successful + open credits); a failed credit gives its amount back."""
    url = f"sqlite+aiosqlite:///{tmp_path}/{secrets.token_hex(4)}.sqlite3"
    await migrate(url)
    db = Database(url)
    try:
        store, ops = PaymentStore(db), OperationStore(db)
        await _payment(store, PaymentState.SUCCESS)
        held = 0
        for amount, outcome in steps:
            step = _step(amount=amount)
            reservation = await ops.reserve_credit(step, paid=100)
            if held + amount > 100:
                assert reservation is Refusal.EXCEEDS
                continue
            assert reservation == Reserved(step)
            if outcome is OperationState.UNKNOWN:
                await ops.mark_unknown(step.xid, now=NOW)
            else:
                await ops.finish(step.xid, outcome, now=NOW, result_code=outcome.value)
            held += amount if outcome is not OperationState.FAILED else 0
        counted = [
            op for op in await ops.for_payment(PAY_ID) if op.state is not OperationState.FAILED
        ]
        assert sum(op.amount for op in counted) == held <= 100
    finally:
        await db.dispose()


OTHERS_CREDITS = 300


async def _paid_with_credits(
    payments: PaymentStore, ops: OperationStore, pay_id: str, credits: int
) -> None:
    await payments.insert(a_payment(pay_id=pay_id, trans_id=f"T-{pay_id}", amount=10_000))
    await payments.finalize(
        pay_id, PaymentState.SUCCESS, now=NOW, from_states=[PaymentState.NEW], notice=None
    )
    for _ in range(credits):
        step = dataclasses.replace(_step(amount=1), pay_id=pay_id)
        assert isinstance(await ops.reserve_credit(step, paid=10_000), Reserved)
        await ops.finish(step.xid, OperationState.SUCCESS, now=NOW, result_code="SUCCESS")


async def _sqlite_steps_of(db: Database, read: Callable[[], Awaitable[object]]) -> int:
    """How many instructions SQLite's virtual machine ran for ``read`` (one kept connection)."""
    counted = 0

    def count() -> int:
        nonlocal counted
        counted += 1
        return 0  # go on

    def handle(handler: Callable[[], int] | None) -> Callable[[Connection], None]:
        def install(conn: Connection) -> None:
            driver = conn.connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            driver.set_progress_handler(handler, 1)

        return install

    await db.read(handle(count))
    try:
        await read()
    finally:
        await db.read(handle(None))
    return counted


async def test_where_a_payment_stands_is_read_without_visiting_other_payments_steps(
    tmp_path: Path,
) -> None:
    """SQLite, without statistics, once summed the credits by searching every successful step
    of every payment through the state index: 46 ms a read at 100,000 credits."""
    url = f"sqlite:///{tmp_path}/adapter.sqlite3"
    await migrate(url)
    db = Database(url)
    payments, ops = PaymentStore(db), OperationStore(db)
    try:
        await _paid_with_credits(payments, ops, PAY_ID, credits=2)
        alone = await _sqlite_steps_of(db, lambda: ops.standing(PAY_ID))
        await _paid_with_credits(payments, ops, "f" * 32, credits=OTHERS_CREDITS)
        beside_others = await _sqlite_steps_of(db, lambda: ops.standing(PAY_ID))
        standing = await ops.standing(PAY_ID)
    finally:
        await db.dispose()
    assert standing is not None and standing.credited == 2
    # A visit costs several instructions a step; a B-tree grown deeper may cost one or two.
    assert beside_others - alone < OTHERS_CREDITS / 10
