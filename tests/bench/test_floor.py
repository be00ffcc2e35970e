"""The floor answers each endpoint correctly, so its figures are those of real work: answers
a shop accepts, refunds and cancels Alipay+ books, notifies applied and acked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapter.model import PaymentState
from tests.bench import bodies
from tests.bench.answers import paygate_answer, redirect_to_checkout, signed_ack
from tests.bench.fake_alipay import create_fake_alipay
from tests.bench.floor import connect, create_floor
from tests.bench.scenarios import UpstreamLedger
from tests.bench.stores import FloorStore, NewPayment, new_payments
from tests.bench.world import AMOUNT, World
from tests.bench.wrk import Sample
from tests.support.servers import reserve_port, serve

PRAGMAS = {"journal_mode": "wal", "synchronous": 1}


class Stack:
    def __init__(self, world: World, store: FloorStore, url: str) -> None:
        self.world, self.store = world, store
        self.http = httpx.Client(base_url=url)
        self.ledger = UpstreamLedger(world.upstream_url)

    def payments(self, state: PaymentState) -> list[NewPayment]:
        payments = new_payments(state.value, 2, AMOUNT, "EUR", state)
        self.store.add_payments(payments)
        self.ledger.seed(payments, "SUCCESS")
        return payments

    def send(self, path: str, request: bodies.Request) -> Sample:
        body, headers = request
        answer = self.http.post(path, content=body, headers=dict(headers))
        return Sample(
            answer.status_code,
            answer.headers.get("location", ""),
            answer.headers.get("signature", ""),
            answer.headers.get("response-time", ""),
            answer.headers.get("client-id", ""),
            answer.text,
        )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    port = reserve_port()
    world = World.create(f"http://127.0.0.1:{port}", "http://127.0.0.1:9")
    database = tmp_path / "floor.sqlite3"
    floor = create_floor(world, connect(database, PRAGMAS), "http://127.0.0.1:8")
    with serve(create_fake_alipay(world), port), serve(floor) as url:
        yield Stack(world, FloorStore(database, world, PRAGMAS), url)


def test_inquire_answers_a_paid_payment_as_a_shop_accepts_it(stack: Stack) -> None:
    pay_id = stack.payments(PaymentState.SUCCESS)[0].pay_id
    answer = stack.send("/inquire.aspx", next(bodies.inquiries(stack.world, [pay_id], 1, "R")))
    expected = {"Status": "OK", "PayID": pay_id, "AmountCap": str(AMOUNT)}
    assert paygate_answer(stack.world, expected)(answer) is None


def test_credit_and_reverse_are_booked_here_and_at_alipay(stack: Stack) -> None:
    credited, reversed_ = stack.payments(PaymentState.SUCCESS)
    request = next(bodies.operations(stack.world, [(credited.pay_id, credited.trans_id)], 7))
    assert (
        paygate_answer(stack.world, {"Status": "OK"})(stack.send("/credit.aspx", request)) is None
    )
    request = next(bodies.operations(stack.world, [(reversed_.pay_id, reversed_.trans_id)], AMOUNT))
    assert (
        paygate_answer(stack.world, {"Status": "OK"})(stack.send("/reverse.aspx", request)) is None
    )
    both = [credited.pay_id, reversed_.pay_id]
    assert stack.store.credited(both) == {credited.pay_id: 7}
    assert stack.store.reversed(both) == {reversed_.pay_id}
    ledger = stack.ledger.view(both)
    assert (ledger[credited.pay_id]["refunded"], ledger[reversed_.pay_id]["state"]) == (
        7,
        "CANCELLED",
    )


def test_checkout_stores_the_payment_and_sends_the_shopper_to_alipay(stack: Stack) -> None:
    answer = stack.send("/alipayplus.aspx", next(bodies.checkouts(stack.world, ["T-1"])))
    assert redirect_to_checkout(stack.world)(answer) is None
    [(pay_id, amount, state)] = stack.store.created(["T-1"]).values()
    assert (amount, state) == (AMOUNT, "PENDING")
    assert stack.ledger.view([pay_id])[pay_id]["state"] == "PENDING"


def test_notify_pays_the_payment_and_acks_signed(stack: Stack) -> None:
    pay_id = stack.payments(PaymentState.PENDING)[0].pay_id
    answer = stack.send("/alipayplus/notify", next(bodies.notifies(stack.world, [pay_id])))
    assert signed_ack(stack.world)(answer) is None
    assert stack.store.paid([pay_id]) == {pay_id}
