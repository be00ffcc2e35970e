"""Login throttling: after ``attempts`` failed logins within ``window`` from one address, or for
one name, further logins from there or for it are refused until the oldest of those failures
leaves the window, and the refusal says when that is.

Kept in the process's memory: each adapter process counts on its own, and a restart forgets.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from datetime import datetime, timedelta

from adapter.core.clock import Clock, utc_now

MAX_KEYS = 10_000  # addresses and names remembered; the least recently failed are forgotten


class LoginThrottle:
    def __init__(self, *, attempts: int, window: timedelta, clock: Clock = utc_now) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()

    def retry_at(self, keys: Iterable[str]) -> datetime | None:
        """When the first of ``keys`` that is locked out may try again; None if none is."""
        now = self.clock()
        until = [moment for key in keys if (moment := self._locked_until(key, now)) is not None]
        return max(until) if until else None

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock()
        for key in keys:
            failures = self._failures.pop(key, None) or deque(maxlen=self.attempts)
            failures.append(now)
            self._failures[key] = failures  # now the most recently failed
        while len(self._failures) > MAX_KEYS:
            self._failures.popitem(last=False)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def _locked_until(self, key: str, now: datetime) -> datetime | None:
        failures = self._failures.get(key)
        if failures is None or len(failures) < self.attempts:
            return None
        until = failures[0] + self.window  # the oldest of the last ``attempts`` failures
        return until if until > now else None


def address_key(address: str) -> str:
    return f"address:{address}"


def name_key(name: str) -> str:
    return f"name:{name.casefold()}"
