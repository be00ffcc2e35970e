"""The one way tests wait: for a condition, failing with a message when it never comes.

Never sleep a fixed time and then assert that nothing more happened: on a busy machine the
second event may simply not have arrived yet. Wait for the first event to be recorded as final
instead (a notification recorded delivered, an attempt acknowledged, a later marker processed),
then assert on what is there.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

# Generous: CI machines are slow and busy, and a wait returns as soon as its condition holds.
DEFAULT_TIMEOUT = 30.0
POLL_SECONDS = 0.02

Message = str | Callable[[], str]


def _failure(message: Message, timeout: float) -> AssertionError:
    text = message() if callable(message) else message
    return AssertionError(f"not within {timeout:g} s: {text}")


def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    message: Message = "the condition never held",
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise _failure(message, timeout)
        time.sleep(POLL_SECONDS)


@overload
async def wait_until_async(
    condition: Callable[[], Awaitable[T]], *, timeout: float = ..., message: Message = ...
) -> T: ...


@overload
async def wait_until_async(
    condition: Callable[[], T], *, timeout: float = ..., message: Message = ...
) -> T: ...


async def wait_until_async(
    condition: Callable[[], Any],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    message: Message = "the condition never held",
) -> Any:
    """The same inside an event loop; ``condition`` may be a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise _failure(message, timeout)
        await asyncio.sleep(POLL_SECONDS)
