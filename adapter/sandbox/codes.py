"""Alipay+ ``result`` objects and the business error that carries one."""

from __future__ import annotations

from typing import Any, Literal

Status = Literal["S", "F", "U"]

# The codes that mean "unknown outcome, retry" (docs/alipayplus.md#unknown-outcomes); all but
# SUCCESS is a final failure.
UNKNOWN_CODES = frozenset(
    {"UNKNOWN_EXCEPTION", "REQUEST_TRAFFIC_EXCEED_LIMIT", "PAYMENT_IN_PROCESS"}
)

MESSAGES = {
    "SUCCESS": "success",
    "PAYMENT_IN_PROCESS": "payment in process",
    "UNKNOWN_EXCEPTION": "an API call failed, which is caused by unknown reasons",
    "REQUEST_TRAFFIC_EXCEED_LIMIT": "the request traffic exceeds the limit",
    "PARAM_ILLEGAL": "illegal parameters",
    "INVALID_SIGNATURE": "the signature is not validated",
    "INVALID_CLIENT": "the client is invalid",
    "KEY_NOT_FOUND": "the key is not found",
    "NO_INTERFACE_DEF": "API is not defined",
    "METHOD_NOT_SUPPORTED": "the server does not implement the requested HTTP method",
    "MEDIA_TYPE_NOT_ACCEPTABLE": "the server does not implement the media type",
    "REPEAT_REQ_INCONSISTENT": "the request id is reused with different key parameters",
    "CURRENCY_NOT_SUPPORT": "the currency is not supported",
    "ORDER_IS_CLOSED": "the order is closed",
    "ORDER_NOT_EXIST": "the order does not exist",
    "ORDER_STATUS_INVALID": "the order status is invalid",
    "CANCEL_WINDOW_EXCEED": "the cancellation window has passed",
    "REFUND_AMOUNT_EXCEED": "the refund amount exceeds the refundable amount",
    "REFUND_WINDOW_EXCEED": "the refund window has passed",
    "PROCESS_FAIL": "a general business failure occurred",
    "USER_PAYMENT_VERIFICATION_FAILED": "the user failed the payment verification",
}


def status_of(code: str) -> Status:
    if code == "SUCCESS":
        return "S"
    return "U" if code in UNKNOWN_CODES else "F"


def result(code: str, status: Status | None = None, message: str | None = None) -> dict[str, str]:
    return {
        "resultCode": code,
        "resultStatus": status or status_of(code),
        "resultMessage": message or MESSAGES.get(code, code.lower().replace("_", " ")),
    }


class ApiError(Exception):
    """A business error answered as HTTP 200 with only a ``result`` body."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"result": result(self.code, message=self.message)}
