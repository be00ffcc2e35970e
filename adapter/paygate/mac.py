"""HMAC-SHA256 ``MAC``s over ``*``-joined values (paygate.md §2, §3)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence


def request_mac_message(
    pay_id: str, trans_id: str, merchant_id: str, amount: str, currency: str
) -> str:
    return f"{pay_id}*{trans_id}*{merchant_id}*{amount}*{currency}"


def response_mac_message(pay_id: str, trans_id: str, mid: str, status: str, code: str) -> str:
    return f"{pay_id}*{trans_id}*{mid}*{status}*{code}"


def compute_mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest().upper()


def mac_matches(given: str, keys: Sequence[bytes], messages: Sequence[str]) -> bool:
    """Case-insensitive, constant-time; any accepted key (rotation) and message variant."""
    candidate = given.strip().upper().encode("ascii", "replace")
    matched = False
    for key in keys:
        for message in messages:
            expected = compute_mac(key, message).encode("ascii")
            matched |= hmac.compare_digest(candidate, expected)
    return matched
