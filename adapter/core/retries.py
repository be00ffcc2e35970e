"""Re-sending an Alipay+ call whose outcome is unknown, inside a time budget.

Every re-send carries the same request id, so Alipay+ applies it at most once. The pauses grow
exponentially with full jitter: when Alipay+ sheds load (``REQUEST_TRAFFIC_EXCEED_LIMIT``), the
requests that were refused together come back spread out instead of in lockstep. Each call is
capped at its API's own timeout (8 s, inquiry 5 s) and at what is left of the budget, so one slow
call never eats the whole budget, and no attempt starts that could not run for a useful while.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, stop_before_delay
from tenacity.wait import wait_random_exponential

from adapter.errors import UpstreamUnknown

FIRST_PAUSE_SECONDS = 0.25  # the first pause is up to this, then up to 2x, 4x, ...
LONGEST_PAUSE_SECONDS = 2.0
SHORTEST_ATTEMPT_SECONDS = 1.0  # a call with less time than this cannot get an answer

T = TypeVar("T")

# Which attempt the running call is (1 for the first), for the journal and the logs.
current_attempt: ContextVar[int] = ContextVar("upstream_attempt", default=1)


class Budget:
    """The time an operation may spend on Alipay+, from now."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def call_timeout(self, api_timeout: float) -> float:
        """The timeout of the next call: its API's own, or what is left, if that is less."""
        return max(min(api_timeout, self.left()), SHORTEST_ATTEMPT_SECONDS)


async def until_definite(budget: Budget, call: Callable[[], Awaitable[T]]) -> T:
    """``call`` until it returns, re-sending while it raises :class:`UpstreamUnknown` and the
    budget allows another attempt; the last :class:`UpstreamUnknown` otherwise. At least once."""
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(UpstreamUnknown),
        wait=wait_random_exponential(multiplier=FIRST_PAUSE_SECONDS, max=LONGEST_PAUSE_SECONDS),
        stop=stop_before_delay(max(budget.left() - SHORTEST_ATTEMPT_SECONDS, 0.0)),
        reraise=True,
    )
    attempts = 0

    async def numbered() -> T:
        nonlocal attempts
        attempts += 1
        current_attempt.set(attempts)
        return await call()

    return await retrying(numbered)
