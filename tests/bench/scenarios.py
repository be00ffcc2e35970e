"""What the benchmark measures, endpoint by endpoint: the requests, the answers, the ledgers.

A scenario prepares fresh data on one side (and in the fake Alipay+'s ledger) before each
timed run, so no run repeats another's requests, and afterwards compares that side's
database with the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from adapter.model import PaymentState
from tests.bench import bodies
from tests.bench.answers import AnswerCheck, paygate_answer, redirect_to_checkout, signed_ack
from tests.bench.processes import Server
from tests.bench.stores import NewPayment, Store, new_payments
from tests.bench.world import AMOUNT, CURRENCY, World
from tests.bench.wrk import Load

INQUIRY_POOL = 1000  # paid payments per side that the inquiries ask about
LedgerCheck = Callable[[Load], tuple[str, list[str]]]  # summary, problems


@dataclass(frozen=True)
class Side:
    name: str
    server: Server
    store: Store


class UpstreamLedger:
    """The fake Alipay+'s control API."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=120)

    def seed(self, payments: Sequence[NewPayment], state: str) -> None:
        entries = [
            {"id": p.pay_id, "amount": p.amount, "currency": p.currency, "state": state}
            for p in payments
        ]
        self.http.post("/_fake/seed", json=entries).raise_for_status()

    def view(self, pay_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        response = self.http.post("/_fake/ledger", json=list(pay_ids))
        response.raise_for_status()
        found: dict[str, dict[str, Any]] = response.json()
        return found

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = self.http.get("/_fake/counts").json()
        return counts


@dataclass
class Env:
    world: World
    upstream: UpstreamLedger
    inquiry_pools: dict[str, list[str]] = field(default_factory=dict)

    def paid_payments(
        self, side: Side, tag: str, count: int, state: PaymentState
    ) -> list[NewPayment]:
        """Fresh payments on ``side``, known to Alipay+ as paid."""
        payments = new_payments(tag, count, AMOUNT, CURRENCY, state)
        side.store.add_payments(payments)
        self.upstream.seed(payments, "SUCCESS")
        return payments

    def inquiry_pool(self, side: Side) -> list[str]:
        if side.name not in self.inquiry_pools:
            payments = self.paid_payments(
                side, f"INQ-{side.name}", INQUIRY_POOL, PaymentState.SUCCESS
            )
            self.inquiry_pools[side.name] = [p.pay_id for p in payments]
        return self.inquiry_pools[side.name]


@dataclass(frozen=True)
class Prepared:
    requests: Iterable[bodies.Request]
    check_ledger: LedgerCheck


def _count_problem(what: str, found: int, load: Load) -> list[str]:
    """Every answered request did its step; at most the ones sent did."""
    if load.requests <= found <= load.sent:
        return []
    return [f"{found} {what}, but {load.requests} answered and {load.sent} sent"]


class Scenario(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def calls_upstream(self) -> bool:
        """Measured at 8 and 32 connections by default."""
        ...

    @property
    def rate_cap(self) -> int:
        """Requests per second prepared for; beyond it wrk repeats requests."""
        ...

    @property
    def distinct(self) -> bool:
        """Whether a repeated request would do less work (then running out is a failure)."""
        ...

    @property
    def goal(self) -> float:
        """Issue 12's target for adapter/floor req/s."""
        ...

    @property
    def p99_goal(self) -> float | None:
        """Issue 12's target: adapter p99 at most this many times the floor's."""
        ...

    def answer_check(self, world: World) -> AnswerCheck: ...

    def prepare(self, env: Env, side: Side, tag: str, count: int) -> Prepared: ...


@dataclass(frozen=True)
class Inquire:
    with_req_id: bool
    path: str = "/inquire.aspx"
    calls_upstream: bool = False
    goal: float = 0.70
    p99_goal: float | None = 2.0

    @property
    def key(self) -> str:
        return "inquire-reqid" if self.with_req_id else "inquire"

    @property
    def label(self) -> str:
        return "inquire.aspx, paid, " + ("ReqId" if self.with_req_id else "no ReqId")

    @property
    def rate_cap(self) -> int:
        # Without a ReqId the pool's inquiries go round: asking again is what shops do.
        return 12000 if self.with_req_id else 0

    @property
    def distinct(self) -> bool:
        return self.with_req_id

    def answer_check(self, world: World) -> AnswerCheck:
        expected = {"Status": "OK", "Code": "00000000", "AmountCap": str(AMOUNT)}
        return paygate_answer(world, expected)

    def prepare(self, env: Env, side: Side, tag: str, count: int) -> Prepared:
        pool = env.inquiry_pool(side)
        req_id = tag if self.with_req_id else None
        requests = bodies.inquiries(env.world, pool, max(count, len(pool)), req_id)

        def check(load: Load) -> tuple[str, list[str]]:
            still_paid = side.store.paid(pool)
            problems = [] if len(still_paid) == len(pool) else ["inquired payments changed"]
            return f"read-only, {len(pool)} payments unchanged", problems

        return Prepared(requests, check)


@dataclass(frozen=True)
class Credit:
    distinct: bool = True
    key: str = "credit"
    label: str = "credit.aspx, 1 cent"
    path: str = "/credit.aspx"
    calls_upstream: bool = True
    rate_cap: int = 1000
    goal: float = 0.80
    p99_goal: float | None = 2.0

    def answer_check(self, world: World) -> AnswerCheck:
        return paygate_answer(world, {"Status": "OK", "Code": "00000000"})

    def prepare(self, env: Env, side: Side, tag: str, count: int) -> Prepared:
        payments = env.paid_payments(side, tag, count, PaymentState.SUCCESS)
        pay_ids = [p.pay_id for p in payments]
        requests = bodies.operations(env.world, ((p.pay_id, p.trans_id) for p in payments), 1)

        def check(load: Load) -> tuple[str, list[str]]:
            ours = side.store.credited(pay_ids)
            theirs = env.upstream.view(pay_ids)
            differ = [i for i in pay_ids if ours.get(i, 0) != theirs[i]["refunded"]]
            over = [i for i in pay_ids if theirs[i]["refunded"] > theirs[i]["amount"]]
            total = sum(ours.values())
            problems = _count_problem("cents credited", total, load)
            if differ:
                problems.append(f"{len(differ)} payments credited otherwise than at Alipay+")
            if over:
                problems.append(f"{len(over)} payments refunded beyond their amount")
            return f"{total} credits = Alipay+'s, none over-refunded", problems

        return Prepared(requests, check)


@dataclass(frozen=True)
class Reverse:
    distinct: bool = True
    key: str = "reverse"
    label: str = "reverse.aspx, paid payment"
    path: str = "/reverse.aspx"
    calls_upstream: bool = True
    rate_cap: int = 1000
    goal: float = 0.80
    p99_goal: float | None = 2.0

    def answer_check(self, world: World) -> AnswerCheck:
        return paygate_answer(world, {"Status": "OK", "Code": "00000000"})

    def prepare(self, env: Env, side: Side, tag: str, count: int) -> Prepared:
        payments = env.paid_payments(side, tag, count, PaymentState.SUCCESS)
        pay_ids = [p.pay_id for p in payments]
        requests = bodies.operations(env.world, ((p.pay_id, p.trans_id) for p in payments), AMOUNT)

        def check(load: Load) -> tuple[str, list[str]]:
            ours = side.store.reversed(pay_ids)
            theirs = {
                i
                for i, entry in env.upstream.view(pay_ids).items()
                if entry["state"] == "CANCELLED"
            }
            problems = _count_problem("payments reversed", len(ours), load)
            if ours != theirs:
                problems.append(
                    f"reversed here {len(ours)}, cancelled at Alipay+ {len(theirs)},"
                    f" {len(ours ^ theirs)} differ"
                )
            return f"{len(ours)} reversals = Alipay+'s cancels", problems

        return Prepared(requests, check)


@dataclass(frozen=True)
class Checkout:
    distinct: bool = True
    key: str = "alipayplus"
    label: str = "alipayplus.aspx to the 303"
    path: str = "/alipayplus.aspx"
    calls_upstream: bool = True
    rate_cap: int = 1000
    goal: float = 0.80
    p99_goal: float | None = 2.0

    def answer_check(self, world: World) -> AnswerCheck:
        return redirect_to_checkout(world)

    def prepare(self, env: Env, side: Side, tag: str, count: int) -> Prepared:
        trans_ids = [f"{tag}-{n}" for n in range(count)]
        requests = bodies.checkouts(env.world, trans_ids)
        pending_before = env.upstream.counts().get("PENDING", 0)

        def check(load: Load) -> tuple[str, list[str]]:
            ours = side.store.created(trans_ids[: load.sent])
            theirs = env.upstream.view([pay_id for pay_id, _, _ in ours.values()])
            created_there = env.upstream.counts().get("PENDING", 0) - pending_before
            problems = _count_problem("payments created", len(ours), load)
            wrong = [
                trans_id
                for trans_id, (pay_id, amount, state) in ours.items()
                if state != PaymentState.PENDING.value
                or theirs.get(pay_id, {}).get("state") != "PENDING"
                or theirs[pay_id]["amount"] != amount
            ]
            if wrong:
                problems.append(f"{len(wrong)} payments not open here and at Alipay+ alike")
            if created_there != len(ours):
                problems.append(f"Alipay+ opened {created_there} orders, {len(ours)} stored here")
            return f"{len(ours)} payments open here and at Alipay+", problems

        return Prepared(requests, check)


@dataclass(frozen=True)
class Notify:
    distinct: bool = True
    key: str = "notify"
    label: str = "notifyPayment (inbound)"
    path: str = "/alipayplus/notify"
    calls_upstream: bool = False
    rate_cap: int = 2500
    goal: float = 0.70
    p99_goal: float | None = None

    def answer_check(self, world: World) -> AnswerCheck:
        return signed_ack(world)

    def prepare(self, env: Env, side: Side, tag: str, count: int) -> Prepared:
        payments = env.paid_payments(side, tag, count, PaymentState.PENDING)
        pay_ids = [p.pay_id for p in payments]
        requests = bodies.notifies(env.world, pay_ids)

        def check(load: Load) -> tuple[str, list[str]]:
            ours = side.store.paid(pay_ids)
            problems = _count_problem("payments paid", len(ours), load)
            if ours - set(pay_ids[: load.sent]):
                problems.append("payments paid that were never notified")
            return f"{len(ours)} notified payments paid, as at Alipay+", problems

        return Prepared(requests, check)


SCENARIOS: tuple[Scenario, ...] = (
    Inquire(with_req_id=True),
    Inquire(with_req_id=False),
    Credit(),
    Reverse(),
    Checkout(),
    Notify(),
)
