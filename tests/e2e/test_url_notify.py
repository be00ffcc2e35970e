"""The shop's URLNotify from the outbox: retried on the configured schedule, then dead, and every
attempt carries the body written with the final state, whatever happens to the payment later.

Times are the ones the adapter stores with each attempt, so the assertions hold on a machine of
any speed: a retry may come later than its delay (the worker polls every second), never sooner.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack, running_stack
from tests.e2e.conftest import test_shop_factory as shop_factory
from tests.support.s2s import S2SClient
from tests.support.shop import Received
from tests.support.waiting import wait_until

# Growing delays, the second longer than the first plus the worker's one-second poll, so a
# retry made after a shorter delay than its own fails the lower bounds.
SCHEDULE = (0.4, 2.4)


@dataclass(frozen=True)
class Refused:
    """A paid payment whose shop answers every URLNotify with HTTP 500."""

    stack: Stack
    pay_id: str
    notification: dict[str, Any]  # the stored row, once dead
    attempts: list[dict[str, Any]]  # its stored attempts


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Refused]:
    received = Received(notify_status=500)
    with running_stack(
        tmp_path_factory.mktemp("url-notify"),
        shop_factory(received),
        received,
        adapter_settings={"notify_retry_seconds": list(SCHEDULE)},
    ) as stack:
        pay_id = stack.paid_payment("UN-REFUSED")

        def dead() -> dict[str, Any]:
            (row,) = stack.notifications_of(pay_id)
            return row if row["status"] == "dead" else {}

        row = wait_until(dead, message=lambda: f"not dead: {stack.notifications_of(pay_id)}")
        yield Refused(stack, pay_id, row, stack.attempts_of(row["id"]))


def test_a_refused_url_notify_is_retried_after_each_delay_of_the_schedule(
    refused: Refused,
) -> None:
    times = [attempt["attempted_at"] for attempt in refused.attempts]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert len(gaps) == len(SCHEDULE)
    for gap, delay in zip(gaps, SCHEDULE, strict=True):
        assert gap >= timedelta(seconds=delay), (gaps, SCHEDULE)
    assert [(a["http_status"], a["error"]) for a in refused.attempts] == [(500, "HTTP 500")] * 3


def test_once_the_schedule_has_run_out_the_url_notify_is_dead_and_sent_no_more(
    refused: Refused,
) -> None:
    # Dead rows are never claimed again, so what the shop has now is everything it gets.
    assert (refused.notification["status"], refused.notification["attempts"]) == (
        "dead",
        len(SCHEDULE) + 1,
    )
    assert len(refused.attempts) == len(SCHEDULE) + 1
    notifies = refused.stack.notifies_for(refused.pay_id)
    assert [n["Status"] for n in notifies] == ["OK"] * (len(SCHEDULE) + 1)
    assert len(refused.stack.received.bodies) == len(SCHEDULE) + 1


@pytest.fixture
def retrying_stack(tmp_path: Path) -> Iterator[Stack]:
    """A stack that retries a refused URLNotify twice a second for half a minute."""
    received = Received()
    with running_stack(
        tmp_path,
        shop_factory(received),
        received,
        adapter_settings={"notify_retry_seconds": [0.5] * 60},
    ) as stack:
        yield stack


def test_a_success_notify_retried_after_a_reversal_still_sends_its_own_body(
    retrying_stack: Stack,
) -> None:
    """Issue 10.2: a row delivers the final state it was written for, byte for byte."""
    stack = retrying_stack
    stack.received.notify_status = 500
    pay_id = stack.paid_payment("UN-REVERSED", "1500")
    (row,) = stack.notifications_of(pay_id)
    wait_until(lambda: stack.attempts_of(row["id"]), message="the first attempt never came")
    with httpx.Client(timeout=30) as http:
        answer = S2SClient(stack.shop, stack.adapter_url, http).reverse(
            pay_id, "UN-REVERSED-X", "1500"
        )
    assert (answer["Status"], answer["Code"]) == ("OK", "00000000")
    assert stack.state_of(pay_id) == "CANCELLED"
    stack.received.notify_status = 200  # only now can an attempt succeed

    assert {n["Status"] for n in stack.settled_notifies(pay_id)} == {"OK"}
    (row,) = stack.notifications_of(pay_id)  # the reversal the shop asked for queued none
    assert (row["final_state"], row["status"]) == ("SUCCESS", "delivered")
    bodies = stack.received.bodies
    assert len(bodies) >= 2
    assert set(bodies) == {row["body"].encode()}
    # The delivered attempt was made after the payment became CANCELLED.
    cancelled_at = stack.payment_row(pay_id)["updated_at"]
    assert stack.attempts_of(row["id"])[-1]["attempted_at"] > cancelled_at
