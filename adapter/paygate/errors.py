"""The one error a shop request can cause: a Paygate rule broken by one parameter."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """What is wrong; ``mapping.yaml`` turns it into Paygate's code digits 1-4."""

    CRYPTO = "crypto"
    MISSING = "missing"
    FORMAT = "format"
    INVALID = "invalid"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    NOT_ALLOWED = "not_allowed"
    DUPLICATE = "duplicate"
    EXPIRED = "expired"


class PaygateError(Exception):
    """``reason`` is a plain sentence for the shop's developer; it never holds key material."""

    def __init__(self, category: Category, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.category = category
        self.parameter = parameter
        self.reason = reason
