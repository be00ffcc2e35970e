"""Field-level checks of Alipay+ request bodies; every violation is ``PARAM_ILLEGAL``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapter.sandbox.codes import ApiError

JsonObject = dict[str, Any]

_AMOUNT_VALUE = re.compile(r"[1-9][0-9]*")
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True, slots=True)
class Amount:
    currency: str
    value: int  # minor units

    def to_json(self) -> dict[str, str]:
        return {"currency": self.currency, "value": str(self.value)}


def illegal(message: str) -> ApiError:
    return ApiError("PARAM_ILLEGAL", message)


def parse_body(raw: bytes) -> JsonObject:
    """Decode a request body: a JSON object whose scalars are all strings (or null)."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise illegal("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise illegal("the body is not a JSON object")
    _reject_non_strings(data, "")
    return data


def _reject_non_strings(value: object, where: str) -> None:
    # Alipay+ wants every scalar as a string ("20", "true"); numbers and booleans are the
    # classic client bug, so the sandbox is strict everywhere, also in fields it ignores.
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_non_strings(item, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_non_strings(item, f"{where}[{index}]")
    elif value is not None and not isinstance(value, str):
        raise illegal(f"{where} must be a string")


def optional_str(obj: JsonObject, key: str, where: str, max_len: int = 256) -> str | None:
    """A string field that may be absent or null, but never ``""`` (the docs forbid it)."""
    value = obj.get(key)
    if value is None:
        return None
    name = f"{where}{key}"
    if not isinstance(value, str):
        raise illegal(f"{name} must be a string")
    if not value:
        raise illegal(f"{name} must not be empty; omit it instead")
    if len(value) > max_len:
        raise illegal(f"{name} is longer than {max_len}")
    return value


def required_str(obj: JsonObject, key: str, where: str, max_len: int = 256) -> str:
    value = optional_str(obj, key, where, max_len)
    if value is None:
        raise illegal(f"{where}{key} is required")
    return value


def optional_object(obj: JsonObject, key: str, where: str) -> JsonObject | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise illegal(f"{where}{key} must be an object")
    return value


def required_object(obj: JsonObject, key: str, where: str) -> JsonObject:
    value = optional_object(obj, key, where)
    if value is None:
        raise illegal(f"{where}{key} is required")
    return value


def required_amount(obj: JsonObject, key: str, where: str) -> Amount:
    amount = required_object(obj, key, where)
    inner = f"{where}{key}."
    currency = required_str(amount, "currency", inner, 3)
    value = required_str(amount, "value", inner, 20)
    if not _CURRENCY.fullmatch(currency):
        raise illegal(f"{inner}currency must be an ISO-4217 code")
    if not _AMOUNT_VALUE.fullmatch(value):
        raise illegal(f"{inner}value must be a positive integer in minor units")
    return Amount(currency, int(value))


def parse_time(text: str) -> datetime | None:
    """An ISO-8601 date-time with offset (``Z`` or ``±hh:mm``, optional fraction), else None."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def optional_time(obj: JsonObject, key: str, where: str) -> datetime | None:
    text = optional_str(obj, key, where, 64)
    if text is None:
        return None
    moment = parse_time(text)
    if moment is None:
        raise illegal(f"{where}{key} must be an ISO-8601 date-time with offset")
    return moment


def without_nulls(value: Any) -> Any:
    """Drop null members, so that "absent" and "null" fingerprint alike."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value
