"""Injected faults for the next matching Alipay+ API calls (test-control API)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from adapter.sandbox.codes import Status, status_of

APIS = ("pay", "inquiryPayment", "cancelPayment", "refund")


class FaultMode(StrEnum):
    RESULT = "result"  # answer this result without processing
    DELAY = "delay"  # sleep, then process normally
    STALL = "stall"  # sleep, then fail without processing: the client timed out for nothing
    DROP_AFTER_COMMIT = "drop_after_commit"  # process, then lose the answer
    HTTP_500 = "http_500"  # fail without processing
    BAD_SIGNATURE = "bad_signature"  # process; sign the answer with a wrong key
    UNSIGNED = "unsigned"  # process; no client-id, response-time, signature headers
    MISSING_SIGNATURE = "missing_signature"  # process; only the signature header is dropped


@dataclass
class Fault:
    api: str
    mode: FaultMode
    result_code: str = "UNKNOWN_EXCEPTION"
    result_status: Status = "U"
    delay_seconds: float = 0.0  # real seconds: it models latency against the client's timeout
    count: int = 1  # how many more matching calls it hits
    request_id: str | None = None  # only calls for this paymentRequestId / refundRequestId

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_fault(data: Any) -> Fault:
    """Build a fault from the control API's JSON; ValueError says what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    api = data.get("api")
    if api not in APIS:
        raise ValueError(f"api must be one of {list(APIS)}")
    try:
        mode = FaultMode(data.get("mode", ""))
    except ValueError:
        raise ValueError(f"mode must be one of {[m.value for m in FaultMode]}") from None
    code = data.get("result_code", "UNKNOWN_EXCEPTION")
    status = data.get("result_status") or (status_of(code) if isinstance(code, str) else None)
    if not isinstance(code, str) or not code or status not in ("S", "F", "U"):
        raise ValueError('result_code must be a code and result_status "S", "F" or "U"')
    delay = data.get("delay_seconds", 0.0)
    count = data.get("count", 1)
    request_id = data.get("request_id")
    if not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0:
        raise ValueError("delay_seconds must be a non-negative number")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError("count must be a positive integer")
    if request_id is not None and not isinstance(request_id, str):
        raise ValueError("request_id must be a string")
    return Fault(api, mode, code, status, float(delay), count, request_id)


class FaultBook:
    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def replace(self, faults: list[Fault]) -> None:
        """Swap every fault for these at once: no call can fall between clear and add."""
        self._faults = list(faults)

    def clear(self) -> int:
        cleared = len(self._faults)
        self._faults.clear()
        return cleared

    def take(self, api: str, request_id: str | None) -> Fault | None:
        """The oldest fault matching this call, used up by one."""
        for fault in self._faults:
            if fault.api == api and fault.request_id in (None, request_id):
                fault.count -= 1
                if fault.count == 0:
                    self._faults.remove(fault)
                return fault
        return None
