"""Counts of the Alipay+ API calls received, so tests can assert "exactly one upstream call"."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any


class CallLog:
    def __init__(self) -> None:
        self._by_api: Counter[str] = Counter()
        self._by_request_id: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def record(self, api: str, request_id: str | None) -> None:
        self._by_api[api] += 1
        if request_id is not None:
            self._by_request_id[request_id][api] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "by_api": dict(self._by_api),
            "by_request_id": {rid: dict(c) for rid, c in self._by_request_id.items()},
        }

    def clear(self) -> None:
        self._by_api.clear()
        self._by_request_id.clear()
