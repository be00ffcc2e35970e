"""Counts of the Alipay+ API calls received, so tests can assert "exactly one upstream call",
and when each request id was called (epoch seconds), to tell a retry from a double send."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any


class CallLog:
    def __init__(self) -> None:
        self._by_api: Counter[str] = Counter()
        self._by_request_id: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._times: defaultdict[str, list[float]] = defaultdict(list)

    def record(self, api: str, request_id: str | None) -> None:
        self._by_api[api] += 1
        if request_id is not None:
            self._by_request_id[request_id][api] += 1
            self._times[f"{api} {request_id}"].append(time.time())

    def to_json(self) -> dict[str, Any]:
        return {
            "by_api": dict(self._by_api),
            "by_request_id": {rid: dict(c) for rid, c in self._by_request_id.items()},
            "times": dict(self._times),  # "api request_id" -> when each call arrived
        }

    def clear(self) -> None:
        self._by_api.clear()
        self._by_request_id.clear()
        self._times.clear()
