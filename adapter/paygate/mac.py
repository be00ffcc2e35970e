"""The Paygate HMAC-SHA256 ``MAC`` over ``*``-joined values.

See docs/paygate.md#mac (requests) and docs/paygate.md#response-mac (results).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Sequence


def request_mac_message(
    pay_id: str, trans_id: str, merchant_id: str, amount: str, currency: str
) -> str:
    """``PayID*TransID*MerchantID*Amount*Currency``; an absent value is empty but keeps its ``*``.

    The values must be the raw strings of the request: the shop signed what it sent, not what we
    parse it into (``0100`` and ``100`` sign differently).
    """
    return "*".join((pay_id, trans_id, merchant_id, amount, currency))


def response_mac_message(pay_id: str, trans_id: str, mid: str, status: str, code: str) -> str:
    """``PayID*TransID*mid*Status*Code`` of a result, as the shops recompute it."""
    return "*".join((pay_id, trans_id, mid, status, code))


def compute_mac(key: bytes, message: str) -> str:
    """UPPER-case hex, because pretix and Spryker compare case-sensitively against upper case."""
    mac = _keyed(key).copy()
    mac.update(message.encode("utf-8"))
    return mac.hexdigest().upper()


@functools.lru_cache(maxsize=64)
def _keyed(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def mac_matches(given: str, keys: Sequence[bytes], messages: Sequence[str]) -> bool:
    """Whether ``given`` is the MAC of any message under any key, ignoring hex case.

    Several keys allow a password rotation; several messages cover the inquire variants that
    different clients sign. Each comparison is constant-time; bytes are compared because
    ``compare_digest`` refuses non-ASCII ``str`` and ``given`` is attacker-controlled.
    """
    candidate = given.strip().upper().encode("utf-8")
    return any(
        hmac.compare_digest(candidate, compute_mac(key, message).encode("ascii"))
        for key in keys
        for message in messages
    )
