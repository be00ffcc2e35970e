"""The one way a shop request fails a Paygate rule.

The category and the parameter name are kept apart because the lead's ``mapping.yaml``
turns each into four digits of the 8-digit Paygate ``Code`` (e.g. ``2011`` + ``0007``);
building codes here would couple the protocol rules to one code table.
"""

from __future__ import annotations

from enum import StrEnum

from adapter.errors import AdapterError


class Category(StrEnum):
    """What kind of rule was broken; the values are the keys of ``paygate_errors.categories``."""

    CRYPTO = "crypto"
    MISSING = "missing"
    FORMAT = "format"
    INVALID = "invalid"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    NOT_ALLOWED = "not_allowed"
    DUPLICATE = "duplicate"
    EXPIRED = "expired"


class PaygateError(AdapterError):
    """A request broke a Paygate rule.

    ``parameter`` is the parameter name as documented (``Amount``, ``MAC``, ``Len``...), not as
    the shop spelled it, so that it finds its id in the mapping. ``reason`` is shown to the shop
    developer, so it must never contain key material, an expected MAC or the full Data.
    """

    def __init__(self, category: Category, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.category = category
        self.parameter = parameter
        self.reason = reason
