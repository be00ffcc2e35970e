"""Login throttling counts failures per key in a sliding window and says when to retry."""

from __future__ import annotations

from datetime import datetime, timedelta

from adapter.console.throttle import MAX_KEYS, LoginThrottle, address_key, name_key
from tests.support.models import NOW


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def test_the_last_allowed_failure_locks_the_key_until_the_oldest_leaves_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(attempts=3, window=timedelta(minutes=10), clock=clock)
    keys = [name_key("Alice")]
    for minute in (0, 4, 6):
        assert throttle.retry_at(keys) is None
        clock.now = NOW + timedelta(minutes=minute)
        throttle.failed(keys)
    assert throttle.retry_at(keys) == NOW + timedelta(minutes=10)
    assert throttle.retry_at([name_key("alice")]) is not None  # names are matched caselessly
    clock.now = NOW + timedelta(minutes=10)
    assert throttle.retry_at(keys) is None  # the failure of minute 0 has left the window
    throttle.failed(keys)  # a fourth failure: the three latest are within ten minutes again
    assert throttle.retry_at(keys) == NOW + timedelta(minutes=14)


def test_the_latest_lockout_of_several_keys_is_the_one_reported() -> None:
    clock = Clock()
    throttle = LoginThrottle(attempts=1, window=timedelta(minutes=5), clock=clock)
    throttle.failed([address_key("10.0.0.1")])
    clock.now = NOW + timedelta(minutes=1)
    throttle.failed([name_key("bob")])
    both = [address_key("10.0.0.1"), name_key("bob")]
    assert throttle.retry_at(both) == NOW + timedelta(minutes=6)
    throttle.forget(name_key("bob"))
    assert throttle.retry_at(both) == NOW + timedelta(minutes=5)


def test_memory_is_bounded_by_forgetting_the_least_recently_failed() -> None:
    throttle = LoginThrottle(attempts=1, window=timedelta(minutes=5), clock=Clock())
    throttle.failed([name_key("first")])
    throttle.failed([name_key(f"n{n}") for n in range(MAX_KEYS)])
    assert throttle.retry_at([name_key("first")]) is None
    assert throttle.retry_at([name_key(f"n{MAX_KEYS - 1}")]) is not None
