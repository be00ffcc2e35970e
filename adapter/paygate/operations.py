"""The request rules of the server-to-server endpoints (docs/paygate.md#server-to-server-endpoints).

``reverse.aspx``, ``credit.aspx`` and ``capture.aspx`` carry PayID, TransID, Amount and
Currency; ``inquire.aspx`` only PayID (TransID is optional there, and fatchip-lib leaves it out).
Everything else is optional, because pretix's credit sends nothing more. The first broken
rule is reported; card data is refused before anything else, as on ``alipayplus.aspx``, and
control characters anywhere (``screening``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.fields import Fields
from adapter.paygate.request import MacScheme, RawRequest
from adapter.paygate.screening import echoable, refuse_card_data, refuse_control_characters
from adapter.paygate.validation import (
    check_currency,
    check_length,
    check_pay_id,
    parse_amount,
    require,
)

_DOCUMENTED = {
    name.lower(): name
    for name in ("PayID", "TransID", "Amount", "Currency", "RefNr", "UserData", "ReqId", "Reason")
}


class Endpoint(StrEnum):
    REVERSE = "reverse"
    CREDIT = "credit"
    CAPTURE = "capture"
    INQUIRE = "inquire"

    @property
    def mac_scheme(self) -> MacScheme:
        return MacScheme.INQUIRE if self is Endpoint.INQUIRE else MacScheme.OPERATION

    @property
    def changes_money(self) -> bool:
        """Credit and reverse move money; capture and inquire only read (no ReqId copy: a
        repeat answers the current state, which is what a repeated read should see)."""
        return self in (Endpoint.REVERSE, Endpoint.CREDIT)

    @property
    def carries_amount(self) -> bool:
        """Every endpoint but inquire sends TransID, Amount and Currency."""
        return self is not Endpoint.INQUIRE


@dataclass(frozen=True)
class Echo:
    """What every answer repeats from the request, valid or not, except values with control
    characters (:func:`adapter.paygate.screening.echoable`).

    See docs/paygate.md#field-semantics and item 9 of docs/paygate.md#compatibility-checklist.
    """

    pay_id: str
    trans_id: str
    ref_nr: str
    user_data: str

    @classmethod
    def of(cls, fields: Fields) -> Echo:
        return cls(
            pay_id=echoable(fields.get("PayID")),
            trans_id=echoable(fields.get("TransID")),
            ref_nr=echoable(fields.get("RefNr")),
            user_data=echoable(fields.get("UserData")),
        )


@dataclass(frozen=True)
class OperationRequest:
    """A checked S2S request; ``amount`` and ``currency`` are None only for inquire."""

    endpoint: Endpoint
    pay_id: str
    trans_id: str | None
    amount: int | None
    currency: str | None
    ref_nr: str | None
    user_data: str | None
    req_id: str | None
    reason: str | None

    @property
    def fingerprint(self) -> str:
        """What a repeat with the same ReqId must not change (docs/paygate.md#reqid)."""
        return f"{self.pay_id}|{self.amount or ''}|{self.currency or ''}"


def _optional(fields: Fields, name: str, max_len: int) -> str | None:
    value = fields.get(name) or None
    if value is not None:
        check_length(name, value, max_len)
    return value


def _trans_id(fields: Fields, *, mandatory: bool) -> str | None:
    trans_id = require(fields, "TransID") if mandatory else (fields.get("TransID") or None)
    if trans_id is None:
        return None
    check_length("TransID", trans_id, 64)
    if "&" in trans_id or "=" in trans_id:
        # Echoed in the answer and covered by its MAC: it could not come back unchanged.
        raise PaygateError(Category.FORMAT, "TransID", "TransID must not contain '&' or '='")
    return trans_id


def validate_operation_request(raw: RawRequest, endpoint: Endpoint) -> OperationRequest:
    """Check a reverse/credit/inquire request and return its typed values."""
    fields = raw.fields
    refuse_card_data(fields)
    pay_id = check_pay_id(require(fields, "PayID"))
    trans_id = _trans_id(fields, mandatory=endpoint.carries_amount)
    amount = currency = None
    if endpoint.carries_amount:
        amount = parse_amount(require(fields, "Amount"))
        currency = check_currency(require(fields, "Currency"))
    refuse_control_characters(fields, _DOCUMENTED)
    return OperationRequest(
        endpoint=endpoint,
        pay_id=pay_id,
        trans_id=trans_id,
        amount=amount,
        currency=currency,
        ref_nr=_optional(fields, "RefNr", 40),
        user_data=_optional(fields, "UserData", 1024),
        req_id=_optional(fields, "ReqId", 32),
        reason=_optional(fields, "Reason", 256) if endpoint is Endpoint.CREDIT else None,
    )
