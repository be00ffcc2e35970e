"""Alipay+ ACQP wire types shared by requests, responses and notifications.

Every scalar on the wire is a JSON string (``"100"``, ``"true"``); these types keep the
Python side typed and convert at the edge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, cast

ResultStatus = Literal["S", "F", "U"]
_STATUSES: frozenset[str] = frozenset({"S", "F", "U"})


class MessageError(ValueError):
    """A message from Alipay+ is not valid JSON or lacks/garbles a field we rely on."""


class Api(StrEnum):
    PAY = "pay"
    INQUIRY_PAYMENT = "inquiryPayment"
    CANCEL_PAYMENT = "cancelPayment"
    REFUND = "refund"

    @property
    def path(self) -> str:
        return f"/aps/api/v1/payments/{self.value}"

    @property
    def timeout(self) -> float:
        """Client timeout recommended by Alipay+ (api_acq/timeout): 5 s inquiry, else 8 s."""
        return 5.0 if self is Api.INQUIRY_PAYMENT else 8.0


@dataclass(frozen=True, slots=True)
class Result:
    code: str
    status: ResultStatus
    message: str

    @classmethod
    def from_json(cls, obj: object) -> Result:
        data = require_object(obj, "result")
        code = data.get("resultCode")
        status = data.get("resultStatus")
        # resultMessage is informational only; a missing one must not turn a valid answer
        # into an "unknown outcome".
        message = data.get("resultMessage", "")
        if not isinstance(code, str) or not code:
            raise MessageError("result.resultCode missing")
        if not isinstance(status, str) or status not in _STATUSES:
            raise MessageError("result.resultStatus is not S, F or U")
        if not isinstance(message, str):
            raise MessageError("result.resultMessage is not a string")
        return cls(code, cast(ResultStatus, status), message)


@dataclass(frozen=True, slots=True)
class Amount:
    """Money in the currency's minor unit (USD 100 = 1.00, JPY 100 = ¥100)."""

    currency: str
    value: int

    def __post_init__(self) -> None:
        if not (len(self.currency) == 3 and self.currency.isascii() and self.currency.isupper()):
            raise ValueError("currency must be an ISO-4217 alpha-3 code")
        # bool is an int subclass; True as an amount is always a bug.
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 0:
            raise ValueError("amount value must be a non-negative int")

    def to_json(self) -> dict[str, str]:
        return {"currency": self.currency, "value": str(self.value)}

    @classmethod
    def from_json(cls, obj: object) -> Amount:
        data = require_object(obj, "amount")
        currency = data.get("currency")
        value = data.get("value")
        # The docs say strings; tolerate a bare JSON integer since some Alipay+ code emits one.
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(currency, str) or not isinstance(value, str):
            raise MessageError("amount needs string currency and value")
        if not (value.isascii() and value.isdigit()):
            raise MessageError("amount value is not a non-negative integer string")
        try:
            return cls(currency, int(value))
        except ValueError as exc:
            raise MessageError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer from Alipay+ whose signature checked out (or that was an unsigned F/U)."""

    api: Api
    result: Result
    body: Mapping[str, Any]
    raw: bytes


# The notify ack says "received", not "payment OK"; Alipay+ resends until it sees S.
ACK_BODY: bytes = (
    b'{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}'
)


def require_object(obj: object, what: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise MessageError(f"{what} is not a JSON object")
    return cast(Mapping[str, Any], obj)


def decode_object(raw: bytes) -> dict[str, Any]:
    """Parse a message body that must be a JSON object."""
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise MessageError("body is not JSON") from None
    if not isinstance(obj, dict):
        raise MessageError("body is not a JSON object")
    return cast(dict[str, Any], obj)
