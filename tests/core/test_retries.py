"""Re-sending unknown Alipay+ calls: same call again, jittered growing pauses, inside a budget."""

from __future__ import annotations

import asyncio
import time

import pytest

from adapter.core.retries import (
    LONGEST_PAUSE_SECONDS,
    SHORTEST_ATTEMPT_SECONDS,
    Budget,
    until_definite,
)
from adapter.errors import UpstreamUnknown


class Flaky:
    """Unknown for the first ``unknown`` calls, then an answer; records when each call began."""

    def __init__(self, unknown: int) -> None:
        self.unknown = unknown
        self.started: list[float] = []

    async def __call__(self) -> str:
        self.started.append(time.monotonic())
        if len(self.started) <= self.unknown:
            raise UpstreamUnknown("503")
        return "answer"


async def test_an_unknown_answer_is_asked_again_until_it_is_definite() -> None:
    call = Flaky(unknown=2)
    assert await until_definite(Budget(30), call) == "answer"
    assert len(call.started) == 3


async def test_a_definite_answer_is_not_asked_again() -> None:
    call = Flaky(unknown=0)
    assert await until_definite(Budget(30), call) == "answer"
    assert len(call.started) == 1


async def test_no_attempt_starts_that_the_budget_could_not_let_run() -> None:
    call = Flaky(unknown=10**6)
    budget = Budget(2.5)
    with pytest.raises(UpstreamUnknown):
        await until_definite(budget, call)
    assert len(call.started) >= 2
    assert all(at <= budget.deadline - SHORTEST_ATTEMPT_SECONDS for at in call.started[1:])


async def test_a_spent_budget_still_makes_one_attempt() -> None:
    call = Flaky(unknown=10**6)
    with pytest.raises(UpstreamUnknown):
        await until_definite(Budget(0), call)
    assert len(call.started) == 1


async def test_callers_refused_together_come_back_spread_out_not_in_lockstep() -> None:
    calls = [Flaky(unknown=1) for _ in range(20)]
    await asyncio.gather(*(until_definite(Budget(30), call) for call in calls))
    pauses = [call.started[1] - call.started[0] for call in calls]
    assert all(0 <= pause <= LONGEST_PAUSE_SECONDS + 0.5 for pause in pauses)
    assert len({round(pause, 4) for pause in pauses}) > 10


def test_a_call_gets_its_apis_timeout_or_what_is_left_but_never_less_than_a_useful_minimum() -> (
    None
):
    assert Budget(15).call_timeout(8.0) == 8.0
    assert 2.0 < Budget(3).call_timeout(8.0) <= 3.0
    assert Budget(0.2).call_timeout(8.0) == SHORTEST_ATTEMPT_SECONDS
