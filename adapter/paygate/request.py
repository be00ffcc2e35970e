"""Reading an incoming shop request: the plain envelope, the Data layer and the MAC.

See docs/paygate.md#envelope, docs/paygate.md#decoding-a-request and docs/paygate.md#mac.

Everything that affects money or where results go must come from inside Data, which only the
merchant can produce; outside Data only MerchantID (to find the keys), Len, Data and a few
presentation hints are taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from adapter.paygate.blowfish import BlowfishCipher
from adapter.paygate.errors import Category, PaygateError
from adapter.paygate.fields import Fields, parse_inner
from adapter.paygate.mac import mac_matches, request_mac_message
from adapter.paygate.screening import CARD_FIELDS, check_parameter_count

# Plain parameters that clients put outside Data on purpose; a value inside Data wins
# (docs/paygate.md#plain-parameters).
PRESENTATION_HINTS = frozenset({"language", "template", "lingua"})


@dataclass(frozen=True)
class RawRequest:
    """A request's parameters, decrypted but not yet validated.

    ``merchant_id`` is the plain MerchantID, which chose the keys. ``fields`` holds the raw strings
    as sent, because the MAC covers them exactly; for an encrypted request, the Data fields plus
    the plain presentation hints and card fields (see :func:`decode_request`).
    """

    merchant_id: str
    fields: Fields
    encrypted: bool


class MacScheme(StrEnum):
    """Which values a request's MAC covers, by endpoint family."""

    PAYMENT = "payment"  # alipayplus.aspx: *TransID*MID*Amount*Currency, no PayID exists yet
    OPERATION = "operation"  # credit, reverse, capture: PayID*TransID*MID*Amount*Currency
    # inquire.aspx: any of the variants clients sign (docs/paygate.md#inquire-mac-variants)
    INQUIRE = "inquire"


# Named in the mismatch error so a shop developer can see what to sign.
_SIGNED = {
    MacScheme.PAYMENT: "*TransID*MerchantID*Amount*Currency",
    MacScheme.OPERATION: "PayID*TransID*MerchantID*Amount*Currency",
    MacScheme.INQUIRE: "PayID*TransID*MerchantID**",
}


def outer_merchant_id(outer: Fields) -> str:
    """The plain MerchantID: authoritative, it selects the keys (docs/paygate.md#envelope)."""
    merchant_id = outer.get("MerchantID")
    if not merchant_id:
        raise PaygateError(Category.MISSING, "MerchantID", "MerchantID is missing")
    return merchant_id


def decode_request(outer: Fields, cipher: BlowfishCipher) -> RawRequest:
    """Decrypt Data when it is there; without Data the plain parameters are the request.

    Card fields sent outside Data are kept beside the inner ones (Data's win), although they are
    otherwise ignored like every plain parameter: the validators refuse card data wherever it
    was sent. The parameter cap counts both layers.
    """
    merchant_id = outer_merchant_id(outer)
    check_parameter_count(outer.received)
    if "Data" not in outer:
        return RawRequest(merchant_id, outer, encrypted=False)
    inner = parse_inner(cipher.decrypt(outer["Data"], outer.get("Len", "")))
    check_parameter_count(outer.received + inner.received)
    if not inner:
        raise PaygateError(
            Category.CRYPTO,
            "Data",
            "Data does not decrypt to key=value pairs (wrong Blowfish password?)",
        )
    inner_merchant_id = inner.get("MerchantID")
    if inner_merchant_id and inner_merchant_id != merchant_id:
        raise PaygateError(
            Category.INVALID, "MerchantID", "the MerchantID inside Data differs from the plain one"
        )
    kept = [
        (key, value)
        for key, value in outer.items()
        if key.lower() in PRESENTATION_HINTS or key.lower() in CARD_FIELDS
    ]
    return RawRequest(
        merchant_id, Fields([*kept, *inner.items()], stray=inner.stray), encrypted=True
    )


def request_mac_messages(
    raw: RawRequest,
    scheme: MacScheme = MacScheme.PAYMENT,
    *,
    stored_amount: int | None = None,
    stored_currency: str | None = None,
) -> list[str]:
    """The strings the shop may have signed, built from the raw values it sent.

    For inquire, fatchip-lib signs ``PayID**MID**``, the docs ``PayID*TransID*MID**`` and Spryker
    signs the payment's Amount and Currency without sending them; pass the stored ones to accept
    that form too.
    """
    if scheme is not MacScheme.INQUIRE and (stored_amount is not None or stored_currency):
        raise ValueError("a stored Amount/Currency only applies to the inquire MAC")
    fields = raw.fields
    mid = raw.merchant_id
    pay_id = fields.get("PayID", "")
    trans_id = fields.get("TransID", "")
    amount = fields.get("Amount", "")
    currency = fields.get("Currency", "")
    if scheme is MacScheme.PAYMENT:
        return [request_mac_message("", trans_id, mid, amount, currency)]
    if scheme is MacScheme.OPERATION:
        return [request_mac_message(pay_id, trans_id, mid, amount, currency)]
    messages = [
        request_mac_message(pay_id, trans_id, mid, "", ""),
        request_mac_message(pay_id, "", mid, "", ""),
    ]
    if stored_amount is not None and stored_currency:
        messages.append(
            request_mac_message(pay_id, trans_id, mid, str(stored_amount), stored_currency)
        )
    return messages


def verify_request_mac(
    raw: RawRequest,
    hmac_keys: Sequence[bytes],
    *,
    scheme: MacScheme = MacScheme.PAYMENT,
    stored_amount: int | None = None,
    stored_currency: str | None = None,
) -> None:
    """Raise unless the request's MAC matches under one of the merchant's HMAC passwords.

    The expected MAC never appears in the error: it would let anyone forge requests.
    """
    given = raw.fields.get("MAC", "")
    if not given.strip():
        raise PaygateError(Category.MISSING, "MAC", "MAC is missing")
    messages = request_mac_messages(
        raw, scheme, stored_amount=stored_amount, stored_currency=stored_currency
    )
    if not mac_matches(given, hmac_keys, messages):
        raise PaygateError(
            Category.INVALID,
            "MAC",
            f"MAC does not match: HMAC-SHA256 with the HMAC password over {_SIGNED[scheme]}"
            ", using the values exactly as sent",
        )
