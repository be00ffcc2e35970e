"""The sandbox's notion of "now": a real clock plus an offset the tests can advance."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

# Alipay+ business days (cancel window) and the timestamps it returns are in China time.
CHINA = timezone(timedelta(hours=8))


def utc_now() -> datetime:
    return datetime.now(UTC)


class SimClock:
    def __init__(self, base: Callable[[], datetime] = utc_now) -> None:
        self._base = base
        self._offset = timedelta()

    def now(self) -> datetime:
        return self._base() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        self._offset = timedelta()

    @property
    def offset(self) -> timedelta:
        return self._offset


def china_timestamp(moment: datetime) -> str:
    """Business timestamps as Alipay+ writes them: ``2025-02-20T16:51:49+08:00``."""
    return moment.astimezone(CHINA).replace(microsecond=0).isoformat()
